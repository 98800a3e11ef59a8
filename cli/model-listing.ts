import type { ModelVersion, RegisteredModel } from '../activities/tracking/mlflow-responses';
import { VersionTag } from '../activities/tracking/version-tags';
import { Alias } from '../common/registry';
import { parseModelName, siteKeyOf } from '../fleet/records';
import { matches, type FleetFilter } from '../fleet/select';
import { architectureName } from '../scenarios/naming';
import { formatTable, type Column } from './table';

/**
 * The registry as `gflow list models` and `gflow show model` print it: each version with its
 * aliases, what it is and how good it is, from the tags `registerModel` writes on every version
 * (`activities/tracking/version-tags.ts`). Pure: the commands read MLflow, this shapes it.
 */

/** One registered version, as `--json` prints it. */
export interface ModelVersionRow {
  name: string;
  version: string;
  aliases: string[];
  runId: string | null;
  /** Epoch milliseconds. */
  createdAt: number | null;
  /** The version's tags: architecture, input size, site, dataset, epochs, metrics, a variant's backend and figures. */
  tags: Record<string, string>;
}

/** The versions of the registered models, newest first within each model, models by name. */
export function modelVersionRows(models: RegisteredModel[], versionsOf: (name: string) => ModelVersion[]): ModelVersionRow[] {
  return [...models]
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((model) =>
      versionsOf(model.name)
        .sort((a, b) => Number(b.version) - Number(a.version))
        .map((v) => ({
          name: model.name,
          version: v.version,
          aliases: (model.aliases ?? []).filter((a) => a.version === v.version).map((a) => a.alias).sort(),
          runId: v.run_id || null,
          createdAt: v.creation_timestamp ?? null,
          tags: Object.fromEntries((v.tags ?? []).map((t) => [t.key, t.value])),
        })),
    );
}

/**
 * Whether a registered model belongs to the customer / site / task asked for: read from its name
 * (`{customer}.{region}-{plant}.{zone}.{task}`, scenarios/naming.ts), so versions registered before
 * versions carried tags are found too. A model named otherwise matches no filter.
 */
export function modelMatches(name: string, filter: FleetFilter): boolean {
  if (!filter.customer && !filter.site && !filter.task) return true;
  const parsed = parseModelName(name);
  return parsed !== undefined && matches({ ...parsed, siteKey: siteKeyOf(parsed.site) }, filter);
}

const fixed = (value: string | undefined, digits: number) => {
  const n = value === undefined ? Number.NaN : Number(value);
  return Number.isFinite(n) ? n.toFixed(digits) : '-';
};
const time = (ms: number | null) => (ms === null ? '-' : `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')}Z`);
const variantOf = (tags: Record<string, string>) => (tags[VersionTag.backend] ? `${tags[VersionTag.backend]}/${tags[VersionTag.precision] ?? '?'}` : '-');

/** The columns both commands share: what a version is, how good it is, and when it was made. */
const DESCRIBE: [Column, (r: ModelVersionRow) => string][] = [
  [{ header: 'aliases' }, (r) => r.aliases.join(',') || '-'],
  [{ header: 'arch' }, (r) => (r.tags[VersionTag.architecture] ? architectureName(r.tags[VersionTag.architecture]) : '-')],
  [{ header: 'imgsz', right: true }, (r) => r.tags[VersionTag.inputSize] ?? '-'],
  [{ header: 'data' }, (r) => r.tags[VersionTag.datasetVersion] ?? '-'],
  [{ header: 'epochs', right: true }, (r) => r.tags[VersionTag.epochsCompleted] ?? r.tags[VersionTag.epochs] ?? '-'],
  [{ header: 'mAP50', right: true }, (r) => fixed(r.tags[VersionTag.mAP50], 3)],
  [{ header: 'mAP50-95', right: true }, (r) => fixed(r.tags[VersionTag.mAP50_95], 3)],
  [{ header: 'p95 ms', right: true }, (r) => fixed(r.tags[VersionTag.latencyP95], 1)],
  [{ header: 'variant' }, (r) => variantOf(r.tags)],
  [{ header: 'drop', right: true }, (r) => fixed(r.tags[VersionTag.accuracyDrop], 3)],
  [{ header: 'speedup', right: true }, (r) => fixed(r.tags[VersionTag.speedup], 2)],
  [{ header: 'created' }, (r) => time(r.createdAt)],
];

/** `gflow list models`: one line per version of every model. */
export function modelsTable(rows: ModelVersionRow[]): string {
  const columns: [Column, (r: ModelVersionRow) => string][] = [[{ header: 'model' }, (r) => r.name], [{ header: 'version', right: true }, (r) => `v${r.version}`], ...DESCRIBE];
  return formatTable(
    columns.map(([c]) => c),
    rows.map((r) => columns.map(([, cell]) => cell(r))),
  );
}

/** `gflow show model <name>`: where its site and task are, what to deploy, and each version with its dataset and run. */
export interface ModelDetails {
  name: string;
  site: string | null;
  task: string | null;
  /** `models:/{name}@champion`, the URI a deployment loads; null while no version is champion. */
  deploy: string | null;
  champion: string | null;
  versions: ModelVersionRow[];
}

export function modelDetails(name: string, rows: ModelVersionRow[]): ModelDetails {
  const parsed = parseModelName(name);
  const champion = rows.find((r) => r.aliases.includes(Alias.champion))?.version ?? null;
  return {
    name,
    site: parsed ? siteKeyOf(parsed.site) : null,
    task: parsed?.task ?? null,
    deploy: champion === null ? null : `models:/${name}@${Alias.champion}`,
    champion,
    versions: rows,
  };
}

export function modelDetailsText(d: ModelDetails): string {
  const candidate = d.versions.find((r) => r.aliases.includes(Alias.candidate));
  const deploy = d.deploy
    ? `deploy:  ${d.deploy}  (version ${d.champion})`
    : `deploy:  no champion yet${candidate ? `; candidate models:/${d.name}@${Alias.candidate} (version ${candidate.version}): gflow promote ${d.name}` : ''}`;
  const columns: [Column, (r: ModelVersionRow) => string][] = [
    [{ header: 'version', right: true }, (r) => `v${r.version}`],
    ...DESCRIBE,
    [{ header: 'dataset' }, (r) => r.tags[VersionTag.datasetUri] ?? '-'],
    [{ header: 'run' }, (r) => r.runId ?? '-'],
  ];
  return [
    `model ${d.name}${d.site ? `  (site ${d.site}, task ${d.task})` : ''}`,
    deploy,
    formatTable(
      columns.map(([c]) => c),
      d.versions.map((r) => columns.map(([, cell]) => cell(r))),
    ),
  ].join('\n');
}
