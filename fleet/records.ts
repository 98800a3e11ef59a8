import { z } from 'zod';
import { RunStatus, type ModelVersion, type RegisteredModel, type Run } from '../activities/tracking/mlflow-responses';
import { Alias } from '../common/registry';
import { architectureName } from '../scenarios/naming';

/**
 * The fleet's read model: one typed record per MLflow run of a site, and one per registered model
 * version, with the registry's aliases as they were when the store read them. The zod schemas
 * are the source of the types (and of the HTTP server's OpenAPI document); the store's cache
 * file is checked against them when it is read back.
 */

/**
 * The metrics a record keeps (docs/architecture.md §5): accuracy, the benchmark's latency of its
 * first batch size, GPU utilisation and tracking. Other keys stay in MLflow.
 */
export const FLEET_METRIC_KEYS = [
  'det.mAP50',
  'det.mAP50_95',
  'det.precision',
  'det.recall',
  'sys.latency_ms',
  'sys.latency_ms_p50',
  'sys.latency_ms_p95',
  'sys.fps',
  'sys.gpu_util_pct',
  'mot.hota',
  'mot.deta',
  'mot.assa',
  'mot.mota',
  'mot.motp',
  'mot.idf1',
  'mot.id_switches',
  'mot.frag',
  'mot.mt',
  'mot.ml',
] as const;
export const FleetMetricKeySchema = z.enum(FLEET_METRIC_KEYS);
export type FleetMetricKey = z.infer<typeof FleetMetricKeySchema>;

export const FleetMetricsSchema = z.partialRecord(FleetMetricKeySchema, z.number());
export type FleetMetrics = z.infer<typeof FleetMetricsSchema>;

export const SiteSchema = z.object({ customer: z.string(), region: z.string(), plant: z.string(), zone: z.string() });
export type Site = z.infer<typeof SiteSchema>;

export const AliasSchema = z.enum(Alias);

/** A registered model version as the registry answered at reading time. */
export const ModelVersionRecordSchema = z.object({
  name: z.string(),
  version: z.string(),
  /** The run whose model was registered (a train run, or a quantization variant's run). */
  runId: z.string().nullable(),
  /** Only the product's aliases; a version may hold several, or none. */
  aliases: z.array(AliasSchema),
  site: SiteSchema,
  siteKey: z.string(),
  task: z.string(),
  /** `openvino_int8` for a quantized variant's model (`…__openvino_int8`), null for the trained one. */
  variant: z.string().nullable(),
  createdAt: z.number().nullable(),
});
export type ModelVersionRecord = z.infer<typeof ModelVersionRecordSchema>;

/** The registered version a run produced, with its aliases at reading time. */
export const RunModelSchema = z.object({ name: z.string(), version: z.string(), aliases: z.array(AliasSchema) });
export type RunModel = z.infer<typeof RunModelSchema>;

export const FleetRunSchema = z.object({
  runId: z.string(),
  runName: z.string(),
  experimentId: z.string(),
  /** `{customer}/{region}-{plant}/{zone}` (tag `site.experiment`). */
  siteKey: z.string(),
  site: SiteSchema,
  task: z.string(),
  /** The architecture's name as in run names (`yolov8n`), null when the run logged none. */
  architecture: z.string().nullable(),
  type: z.string().nullable(),
  design: z.string().nullable(),
  version: z.string().nullable(),
  parentRunId: z.string().nullable(),
  status: z.enum(RunStatus),
  /** Epoch milliseconds. */
  startTime: z.number(),
  endTime: z.number().nullable(),
  /** `models:/{name}/{version}`: the registered version this run benchmarked (tag `model.source`, or param `model.weights` when it names a version). */
  modelSource: z.string().nullable(),
  /** The registered version this run produced, null when none was registered from it. */
  model: RunModelSchema.nullable(),
  metrics: FleetMetricsSchema,
});
export type FleetRun = z.infer<typeof FleetRunSchema>;

/** Everything the queries read: the runs and the registry at `readAt`. */
export const FleetSnapshotSchema = z.object({
  readAt: z.number(),
  runs: z.array(FleetRunSchema),
  models: z.array(ModelVersionRecordSchema),
});
export type FleetSnapshot = z.infer<typeof FleetSnapshotSchema>;

/** `{customer}/{region}-{plant}/{zone}`, the MLflow experiment of a site (scenarios/naming.ts). */
export function siteKeyOf(site: Site): string {
  return `${site.customer}/${site.region}-${site.plant}/${site.zone}`;
}

/** `models:/{name}/{version}`: how benchmark runs name the version they measured. */
export function modelUri(name: string, version: string): string {
  return `models:/${name}/${version}`;
}

const VERSION_URI = /^models:\/[^/@]+\/\d+$/;

const pairs = (list: { key: string; value: string }[] | undefined) => Object.fromEntries((list ?? []).map((kv) => [kv.key, kv.value]));

/**
 * A run's record, or undefined for a run that is not a site's (no `site.*` or `task.type` tag:
 * another tool's run in the same MLflow). A quantization variant's run logs its model's numbers
 * as `quant.*` (the original's as `orig.*`): the record takes `quant.*` where the plain key is
 * absent, since that run's registered model is the quantized one. Non-finite values are left out.
 */
export function toFleetRun(run: Run): Omit<FleetRun, 'model'> | undefined {
  const tags = pairs(run.data.tags);
  const params = pairs(run.data.params);
  const site = { customer: tags['site.customer'], region: tags['site.region'], plant: tags['site.plant'], zone: tags['site.zone'] };
  const task = tags['task.type'];
  if (!site.customer || !site.region || !site.plant || !site.zone || !task) return undefined;
  const logged = new Map((run.data.metrics ?? []).map((m) => [m.key, m.value]));
  const metrics: FleetMetrics = {};
  for (const key of FLEET_METRIC_KEYS) {
    const value = logged.get(key) ?? logged.get(`quant.${key}`);
    if (value !== undefined && Number.isFinite(value)) metrics[key] = value;
  }
  const source = [tags['model.source'], params['model.weights']].find((ref) => ref !== undefined && VERSION_URI.test(ref));
  return {
    runId: run.info.run_id,
    runName: run.info.run_name ?? tags['mlflow.runName'] ?? run.info.run_id,
    experimentId: run.info.experiment_id,
    siteKey: siteKeyOf(site),
    site,
    task,
    architecture: params['model.architecture'] ? architectureName(params['model.architecture']) : null,
    type: tags['exp.type'] ?? null,
    design: tags['exp.design'] ?? null,
    version: tags['exp.version'] ?? null,
    parentRunId: tags['mlflow.parentRunId'] ?? null,
    status: run.info.status,
    startTime: run.info.start_time ?? 0,
    endTime: run.info.end_time ?? null,
    modelSource: source ?? null,
    metrics,
  };
}

/**
 * Site, task and variant from a registered model name, `{customer}.{region}-{plant}.{zone}.{task}`
 * with `__{backend}_{precision}` for a variant (scenarios/naming.ts): slugs hold no `.`, and a
 * region no `-`, so the name reads back one way. Undefined for a name of another form.
 */
export function parseModelName(name: string): { site: Site; task: string; variant: string | null } | undefined {
  const [base, variant, ...extra] = name.split('__');
  const parts = base.split('.');
  if (extra.length > 0 || parts.length !== 4) return undefined;
  const [customer, regionPlant, zone, task] = parts;
  const dash = regionPlant.indexOf('-');
  if (!customer || dash <= 0 || dash === regionPlant.length - 1 || !zone || !task) return undefined;
  return { site: { customer, region: regionPlant.slice(0, dash), plant: regionPlant.slice(dash + 1), zone }, task, variant: variant ?? null };
}

const KNOWN_ALIASES = new Set<string>(Object.values(Alias));

/** The registry as records: each version of a site model, with the aliases its registered model points at it. */
export function toModelVersionRecords(models: RegisteredModel[], versions: ModelVersion[]): ModelVersionRecord[] {
  const aliasesOf = new Map<string, Alias[]>();
  for (const model of models) {
    for (const { alias, version } of model.aliases ?? []) {
      if (!KNOWN_ALIASES.has(alias)) continue;
      const key = modelUri(model.name, version);
      aliasesOf.set(key, [...(aliasesOf.get(key) ?? []), alias as Alias].sort());
    }
  }
  return versions.flatMap((v) => {
    const parsed = parseModelName(v.name);
    if (!parsed) return [];
    return [
      {
        name: v.name,
        version: v.version,
        runId: v.run_id || null,
        aliases: aliasesOf.get(modelUri(v.name, v.version)) ?? [],
        site: parsed.site,
        siteKey: siteKeyOf(parsed.site),
        task: parsed.task,
        variant: parsed.variant,
        createdAt: v.creation_timestamp ?? null,
      },
    ];
  });
}

/**
 * Each run with the version registered from it (the highest, if one run was registered twice),
 * so a record's aliases follow the registry at every read even when the run itself is unchanged.
 */
export function joinModels(runs: Omit<FleetRun, 'model'>[], models: ModelVersionRecord[]): FleetRun[] {
  const byRun = new Map<string, ModelVersionRecord>();
  for (const m of models) {
    if (!m.runId) continue;
    const seen = byRun.get(m.runId);
    if (!seen || Number(m.version) > Number(seen.version)) byRun.set(m.runId, m);
  }
  return runs.map((run) => {
    const m = byRun.get(run.runId);
    return { ...run, model: m ? { name: m.name, version: m.version, aliases: m.aliases } : null };
  });
}
