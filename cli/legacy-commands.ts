import { readdir, readFile, realpath, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { WorkflowExecutionAlreadyStartedError, WorkflowFailedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import type { Command } from 'commander';
import type { LegacyHeartbeat } from '../activities/legacy/activities';
import { filterLiteral, mlflowClientFor, type MlflowClient } from '../activities/tracking/mlflow-client';
import { CONTROL_QUEUE, WorkflowType } from '../common/contract';
import type { Settings } from '../common/settings';
import { defaultRegistryFile, expandPath, loadRegistryFile, RegistryFileError } from '../legacy/loader';
import { mergeDrafts, type ScannedFolder } from '../legacy/scan';
import { LEGACY_TYPES, type LegacyRegistry } from '../legacy/schema';
import { namedPython, pythonProblem } from '../activities/legacy/python';
import { legacyExperimentName, legacyWorkflowId, planWrap, WrapRequestSchema, wrappedRunName, type WrapRequest } from '../legacy/wrap-request';
import type { LegacyRunResult } from '../workflows/legacy-run';
import { poolPriority } from '../scenarios/pool-policy';
import { CliError } from './cli-error';
import { FlagError, priorityFlag } from './scenario-overrides';
import { cliPoolPolicy } from './start-run';
import { legacyMetadata } from '../common/workflow-metadata';
import { mlflowRunUrl, temporalWorkflowUrl, uiLinks } from './links';
import { formatTable } from './table';
import { applicationFailureOf, connect } from './temporal';

interface WrapFlags {
  type: string;
  param: string[];
  script?: string;
  version?: string;
  registry?: string;
  wait?: boolean;
  /** `--name`: the MLflow run name. */
  name?: string;
  /** False with `--no-register`. */
  register?: boolean;
  /** `--priority urgent|normal|background`. */
  priority?: string;
}

const collectParam = (value: string, previous: string[] = []) => [...previous, value];

/** `gflow scan`, `gflow list experiments`, `gflow wrap`: existing experiment folders brought in without changing them. */
export function registerLegacyCommands(program: Command, settings: Settings): void {
  program
    .command('scan <dir>')
    .description('draft experiments.yaml entries for the experiment folders in <dir>; existing entries are never changed')
    .option('-o, --output <file>', 'the registry to write (merged into when it exists)', 'experiments.yaml')
    .option('--dry-run', 'print what would change, write nothing')
    .action(async (dir: string, opts: { output: string; dryRun?: boolean }) => {
      const folders = await scanFolders(expandPath(dir, process.cwd()));
      const existing = await readFile(opts.output, 'utf8').catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return '';
        throw new CliError(`cannot read ${opts.output} (${err.code})`, 2, { cause: err });
      });
      const baseDir = path.dirname(path.resolve(opts.output));
      const merged = mergeDrafts(existing, folders, (a, b) => expandPath(a, baseDir) === b);
      for (const line of merged.diff) console.log(line);
      console.log(`${merged.added.length} added, ${merged.kept.length} kept as written${opts.dryRun ? ' (dry run: nothing written)' : ` → ${opts.output}`}`);
      if (merged.added.length > 0 && !opts.dryRun) {
        await writeFile(opts.output, merged.text);
        console.log('review the drafts: region, plant, zone, task classes and args_template are guesses or empty');
      }
    });

  const list = program.commands.find((c) => c.name() === 'list') ?? program.command('list').description('list what is recorded in MLflow');
  list
    .command('experiments')
    .description('the experiments.yaml registry, with each entry’s last wrapped run from MLflow')
    .option('-r, --registry <file>', 'the registry (default ./experiments.yaml)')
    .option('--customer <customer>', 'only this customer')
    .option('--task <task>', 'only this task type')
    .action(async (opts: { registry?: string; customer?: string; task?: string }) => {
      const registry = await registryFrom(opts.registry, false);
      const entries = Object.entries(registry.experiments).filter(([, e]) => (!opts.customer || e.site.customer === opts.customer) && (!opts.task || e.task.type === opts.task));
      const mlflow = mlflowClientFor(settings);
      const rows = await Promise.all(
        entries.map(async ([name, e]) => {
          const last = await lastWrappedRun(mlflow, name, legacyExperimentName(e));
          return [name, e.site.customer, legacyExperimentName(e), e.task.type, Object.keys(e.entry_points).join(','), last?.name ?? '-', last?.status ?? '-', last?.started ?? '-'];
        }),
      );
      console.log(formatTable(['name', 'customer', 'experiment', 'task', 'types', 'last run', 'status', 'started'].map((header) => ({ header })), rows));
    });

  program
    .command('wrap <name>')
    .description('run an experiments.yaml entry’s script unmodified on its GPU pool, recorded as an MLflow run')
    .requiredOption('-t, --type <type>', `experiment type: ${LEGACY_TYPES.join('|')}`)
    .option('-p, --param <key=value>', 'fills {key} in the args template (one argv element; repeatable); precision= and source_run= also give exported models their precision and training run', collectParam, [])
    .option('--script <file>', 'another script of the folder instead of the entry point’s')
    .option('--version <version>', 'ends the run name and workflow id (default: the time, wYYYYMMDDhhmmss)')
    .option('-r, --registry <file>', 'the registry (default ./experiments.yaml)')
    .option('-w, --wait', 'wait for the script to end and print the result')
    .option('--name <run name>', 'the MLflow run name (default {entry}-{type}-{version})')
    .option('--no-register', 'register no model (the run still records everything)')
    .option('--priority <urgent|normal|background>', 'where its GPU job queues on a busy pool (default normal)')
    .action(async (name: string, flags: WrapFlags) => {
      const request = await wrapRequest(name, flags);
      const priority = poolPriority(request.entry.site, wrapPriority(flags.priority), await cliPoolPolicy());
      if (request.type !== 'train' && request.params.source_run === undefined) {
        request.sourceRunId = (await lastWrappedRun(mlflowClientFor(settings), name, legacyExperimentName(request.entry), "and tags.`exp.type` = 'train' and attributes.status = 'FINISHED'"))?.id;
      }
      const id = legacyWorkflowId(request);
      const { client, close } = await connect(settings);
      try {
        await client.workflow.start(WorkflowType.legacyRun, { taskQueue: CONTROL_QUEUE, workflowId: id, args: [request], priority, ...legacyMetadata(request, uiLinks(settings)) }).catch((err: unknown) => {
          if (err instanceof WorkflowExecutionAlreadyStartedError) throw new CliError(`${id} already ran or is running; see: gflow status '${id}' (or pass another --version)`, 1, { cause: err });
          throw err;
        });
        console.log(`started ${id}\n  run:      ${wrappedRunName(request)}\n  Temporal: ${temporalWorkflowUrl(settings, id)}`);
        if (request.sourceRunId) console.log(`  exports from: run ${request.sourceRunId} (the entry's last wrapped train run; -p source_run=… names another)`);
        if (flags.wait) await waitForWrap(client, settings, id);
      } finally {
        await close();
      }
    });
}

/** `--priority` of `gflow wrap`; a bad level exits 2 naming the flag. */
function wrapPriority(flag: string | undefined) {
  try {
    return priorityFlag(flag);
  } catch (err) {
    if (err instanceof FlagError) throw new CliError(err.message, 2, { cause: err });
    throw err;
  }
}

/** The folders directly in `dir` with the files directly in each (what the seeds' scan looks at). */
async function scanFolders(dir: string): Promise<ScannedFolder[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
    throw new CliError(`cannot scan ${dir} (${err.code})`, 2, { cause: err });
  });
  const folders = entries.filter((e) => e.isDirectory() && !e.name.startsWith('.')).sort((a, b) => a.name.localeCompare(b.name));
  return Promise.all(
    folders.map(async (f) => {
      const full = await realpath(path.join(dir, f.name));
      const files = (await readdir(full, { withFileTypes: true })).filter((e) => e.isFile()).map((e) => e.name);
      return { name: f.name, path: full, files };
    }),
  );
}

async function registryFrom(file: string | undefined, check: boolean): Promise<LegacyRegistry> {
  return loadRegistryFile(file ?? defaultRegistryFile(), { check }).catch((err: unknown) => {
    if (err instanceof RegistryFileError) throw new CliError(err.message, 2, { cause: err });
    throw err;
  });
}

/**
 * The request `gflow wrap` starts, checked as the workflow will check it: a bad registry, an
 * unknown type, a missing folder or a placeholder without a value exits 2 before anything starts.
 */
export async function wrapRequest(name: string, flags: WrapFlags): Promise<WrapRequest> {
  const file = flags.registry ?? defaultRegistryFile();
  const registry = await registryFrom(file, true);
  const entry = registry.experiments[name];
  if (!entry) throw new CliError(`${file}: no entry ${name} (entries: ${Object.keys(registry.experiments).join(', ') || 'none'})`, 2);
  if (!(LEGACY_TYPES as string[]).includes(flags.type)) throw new CliError(`--type: expected ${LEGACY_TYPES.join('|')}, got ${JSON.stringify(flags.type)}`, 2);
  const params: Record<string, string> = {};
  for (const p of flags.param) {
    const eq = p.indexOf('=');
    if (eq <= 0) throw new CliError(`-p ${p}: expected key=value`, 2);
    params[p.slice(0, eq)] = p.slice(eq + 1);
  }
  const checked = WrapRequestSchema.safeParse({ name, entry, type: flags.type, params, script: flags.script, version: flags.version ?? timeVersion(new Date()), runName: flags.name, register: flags.register ?? true });
  if (!checked.success) throw new CliError(`invalid wrap request: ${checked.error.issues.map((i) => `${flagOf(i.path)}: ${i.message}`).join('; ')}`, 2);
  const planned = planWrap(checked.data);
  if (!planned.ok) throw new CliError(`${file}: cannot wrap ${name}\n${planned.issues.map((i) => `  - experiments.${name}.${i.path}: ${i.message}`).join('\n')}`, 2);
  if (flags.script) await refuseEscape(entry.path, flags.script);
  const python = entry.python === undefined ? undefined : await pythonProblem(namedPython(entry.path, entry.python));
  if (python) throw new CliError(`${file}: cannot wrap ${name}\n  - experiments.${name}.python: ${python}`, 2);
  return checked.data;
}

/** The flag a wrap request field came from, for its error (`--name: expected …`, `-p precision: …`). */
function flagOf(issuePath: PropertyKey[]): string {
  const [field, key] = issuePath;
  if (field === 'params') return `-p ${String(key)}`;
  const flags: Record<string, string> = { runName: '--name', version: '--version', script: '--script' };
  return flags[String(field)] ?? issuePath.map(String).join('.');
}

/** `--script` must stay in the folder (symlinks resolved); the GPU host checks again before running it. */
async function refuseEscape(folder: string, script: string): Promise<void> {
  const realFolder = await realpath(folder);
  const asked = path.resolve(realFolder, script);
  const real = await realpath(asked).catch(() => asked);
  if (real !== realFolder && !real.startsWith(realFolder + path.sep)) {
    throw new CliError(`--script ${script} resolves to ${real}, outside the experiment folder ${realFolder}: refused`, 2);
  }
}

/** `w20261206T213000`: a version per wrap, so wrapping the same script again is a new run. */
export function timeVersion(now: Date): string {
  return `w${now.toISOString().replace(/[-:]/g, '').slice(0, 15).toLowerCase()}`;
}

/** The entry's last wrapped run (`alsoFilter`: more MLflow filter clauses, `and …`). */
async function lastWrappedRun(mlflow: MlflowClient, name: string, experiment: string, alsoFilter = '') {
  const exp = await mlflow.getExperimentByName(experiment).catch(() => undefined);
  if (!exp) return undefined;
  const [run] = await mlflow.searchRuns({ experimentIds: [exp.experiment_id], filter: `tags.\`source.wrapped\` = 'true' and tags.\`exp.name\` = ${filterLiteral(name)} ${alsoFilter}`, orderBy: ['attributes.start_time DESC'], maxResults: 1 });
  if (!run) return undefined;
  return { id: run.info.run_id, name: run.info.run_name ?? run.info.run_id, status: run.info.status, started: new Date(Number(run.info.start_time)).toISOString().slice(0, 16).replace('T', ' ') };
}

async function waitForWrap(client: Client, settings: Settings, id: string): Promise<void> {
  try {
    const r = await client.workflow.getHandle(id).result() as LegacyRunResult;
    console.log(`${id}: finished (exit 0)\n  script:   ${r.script}\n  run id:   ${r.runId}\n  MLflow:   ${mlflowRunUrl(settings, r.experimentId, r.runId)}`);
    const metrics = Object.entries(r.metrics).map(([k, v]) => `${k}=${Number(v.toFixed(4))}`);
    if (metrics.length > 0) console.log(`  metrics:  ${metrics.join(' ')}`);
    if (r.model) console.log(`  model:    ${r.model.name}@${r.model.alias} (version ${r.model.version})`);
    for (const v of r.variants ?? []) console.log(`  variant:  ${v.model.name}@${v.model.alias} (version ${v.model.version})`);
    if (r.notUploaded.length > 0) console.log(`  over the size cap (listed in collected.json, not uploaded): ${r.notUploaded.join(', ')}`);
  } catch (err) {
    if (!(err instanceof WorkflowFailedError)) throw err;
    const failure = applicationFailureOf(err);
    throw new CliError(`workflow ${id} failed: ${failure ? `${failure.type ?? 'Error'}: ${failure.message}` : err.message}\n  Temporal: ${temporalWorkflowUrl(settings, id)}`, 1, { cause: err });
  }
}

/** The last output lines of a running wrapped script: its activity's latest heartbeat details. */
export async function scriptOutputLines(handle: WorkflowHandle): Promise<string[]> {
  const description = await handle.describe();
  for (const activity of description.raw.pendingActivities ?? []) {
    const payload = activity.heartbeatDetails?.payloads?.[0];
    if (activity.activityType?.name !== 'runLegacyScript' || !payload) continue;
    return defaultPayloadConverter.fromPayload<LegacyHeartbeat>(payload).lines;
  }
  return [];
}
