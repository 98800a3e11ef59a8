/**
 * Records the workflow histories that test/unit/replay-histories.test.ts replays on every
 * `npm test` (test/histories/README.md says why and when to re-record).
 *
 *   npm run record-histories            # compiles, then `node dist/test/support/record-histories.js`
 *
 * It starts a test stack of its own (Temporal, SeaweedFS, MLflow; ports moved by
 * GF_TEST_PORT_OFFSET, which the npm script sets to 900 unless given; state in a fresh
 * temporary folder), runs each workflow of
 * the list below with the stand-in executors (test/fixtures) and fast settings, fetches every
 * history and replaces test/histories/*.json with the new set only when all were recorded;
 * histories of older workflow code (`*-before-*.json`, see KEPT) are kept as they are.
 * The same workflows with the same inputs every time; ids, times and run ids differ.
 */
import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, type Worker } from '@temporalio/worker';
import { wrapRequest } from '../../cli/legacy-commands';
import { startScenario } from '../../cli/start-run';
import { legacyWorkflowId } from '../../legacy/wrap-request';
import { approveUpdate, batchProgressQuery, CONTROL_QUEUE, WorkflowType, progressQuery, promotionProgressQuery, PromotionPhase } from '../../common/contract';
import { loadSettings, type Settings } from '../../common/settings';
import { connectTemporal } from '../../common/temporal-unreachable';
import { MlflowClient } from '../../activities/tracking/mlflow-client';
import { promotionWorkflowId, registryWorkflowId } from '../../common/registry';
import { parseScenarioText } from '../../scenarios/loader';
import { workflowId } from '../../scenarios/naming';
import type { Scenario } from '../../scenarios/schema';
import { devDown, devUp } from '../../stack/dev-stack';
import type { guardedPromotion } from '../../workflows/guarded-promotion';
import type { optimizer } from '../../workflows/optimizer';
import type { OptimizerActionResult } from '../../workflows/optimizer-action';
import type { pipeline as pipelineWorkflow } from '../../workflows/pipeline';
import type { sweep } from '../../workflows/sweep';
import { createControlWorker } from '../../workers/control';
import { createGpuWorkers } from '../../workers/gpu';
import { historyToJSON, WORKFLOW_IDS_FILE } from './history-json';
import { TEST_STACK_ENV } from './test-stack-env';


type History = temporal.api.history.v1.IHistory;

const STEP_TIMEOUT_MS = 120_000;

function scenario(design: string, extra: string, training = 'epochs: 2, batch_size: 16, learning_rate: 0.01', version = 'replay'): Scenario {
  return parseScenarioText(`
name: replay-${design}
version: ${version}
type: train
design: ${design}
site: { customer: replay-co, region: ci, plant: lab, zone: bench }
task: { type: ppe, classes: [helmet, vest] }
model: { architecture: yolov8n.yaml, input_size: 64 }
dataset: { path: /nonexistent/data.yaml, version: synthetic-1 }
environment: { device: cpu, workers: 0 }
training: { ${training} }
${extra}
`);
}

/** Every run of a workflow id, first to last, by following its continue-as-new events. */
async function chainOf(client: Client, id: string, firstRunId: string): Promise<History[]> {
  const histories: History[] = [];
  for (let runId: string | undefined = firstRunId; runId; ) {
    const history: History = await client.workflow.getHandle(id, runId).fetchHistory();
    histories.push(history);
    runId = history.events?.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
  }
  return histories;
}

async function until<T>(what: string, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + STEP_TIMEOUT_MS;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`record-histories: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The recordings: file name (without .json) → the workflow id (replay needs it: child ids derive from it) and history. */
type Recording = Map<string, { workflowId: string; history: History }>;

async function recordAll(client: Client): Promise<Recording> {
  const out: Recording = new Map();
  const history = async (id: string) => ({ workflowId: id, history: await client.workflow.getHandle(id).fetchHistory() });

  const single = scenario('single', '', 'epochs: 3, batch_size: 16, learning_rate: 0.01');
  await (await startScenario(client, single)).result();
  out.set('single-run', await history(workflowId(single)));

  const pipeline = scenario('pipeline', 'quantization: { variants: [ { backend: onnx, precision: fp32 } ] }');
  const piped = await (await startScenario<typeof pipelineWorkflow>(client, pipeline)).result();
  out.set('pipeline', await history(workflowId(pipeline)));
  out.set('pipeline-quant', await history(`${workflowId(pipeline)}/quant`));
  // the infer stage's benchmark of the promoted trained model (no champion yet: the gate promotes it)
  if (piped.infer.length > 0) out.set('pipeline-infer', await history(`${workflowId(pipeline)}/infer`));
  // the promotion's child workflow, when the gate promoted the trained model (no champion yet: it does)
  if (piped.promoted.length > 0) out.set('registry-move', await history(registryWorkflowId(piped.promoted[0].name)));

  // 5 trials, 2 per workflow run: three runs joined by continue-as-new, medians carried across
  const swept = scenario('sweep', 'sweep: { parameters: { learning_rate: [0.001, 0.003, 0.01, 0.03, 0.1] }, parallel: 2, early_stopping: { min_completed: 2, grace_epochs: 1 } }', 'epochs: 3, batch_size: 16, learning_rate: 0.01');
  const sweepHandle = await client.workflow.start<typeof sweep>('sweep', { taskQueue: CONTROL_QUEUE, workflowId: workflowId(swept), args: [{ scenario: swept, trialsPerRun: 2 }] });
  await sweepHandle.result();
  const chain = await chainOf(client, sweepHandle.workflowId, sweepHandle.firstExecutionRunId);
  if (chain.length < 2) throw new Error(`record-histories: the sweep ran in ${chain.length} workflow run(s); it must continue as new at least once`);
  chain.forEach((h, i) => out.set(`sweep-run-${i + 1}`, { workflowId: sweepHandle.workflowId, history: h }));
  out.set('sweep-trial', await history(`${sweepHandle.workflowId}/trial-0`));

  const cancelled = scenario('sweep', 'sweep: { parameters: { learning_rate: [0.001, 0.003, 0.01, 0.03] }, parallel: 2 }', 'epochs: 100, batch_size: 16, learning_rate: 0.01', 'replay-cancel');
  const handle = await startScenario<typeof sweep>(client, cancelled);
  await until('two trials training', async () => {
    if ((await handle.query(batchProgressQuery)).running < 2) return undefined;
    const trials = await Promise.all([0, 1].map((i) => client.workflow.getHandle(`${handle.workflowId}/trial-${i}`).query(progressQuery)));
    return trials.every((t) => (t.training?.epoch ?? 0) >= 1) ? true : undefined;
  });
  await handle.cancel();
  await handle.result().then(
    () => Promise.reject(new Error('record-histories: the cancelled sweep completed')),
    () => undefined,
  );
  out.set('sweep-cancelled', await history(handle.workflowId));
  out.set('sweep-cancelled-trial', await history(`${handle.workflowId}/trial-0`));

  const compared = scenario('comparison', 'comparison: { architectures: [yolov8n.yaml, yolov8s.yaml], metric: det.mAP50, parallel: 2 }');
  await (await startScenario(client, compared)).result();
  out.set('comparison', await history(workflowId(compared)));

  await recordPromotions(client, out, history, piped.trained.model!.name);
  await recordLegacyRun(client, out, history);
  return out;
}

/** A site's script wrapped unmodified (`gflow wrap`): it prints a metric and writes weights, which the run collects and registers. */
async function recordLegacyRun(client: Client, out: Recording, history: (id: string) => Promise<{ workflowId: string; history: History }>): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'gflow-replay-legacy-'));
  const folder = path.join(dir, 'replay-co-ppe');
  await mkdir(folder);
  await writeFile(
    path.join(folder, 'train_site.py'),
    'import os, sys\nos.makedirs("weights", exist_ok=True)\nopen("weights/best.pt", "wb").write(b"weights")\nprint("epochs", sys.argv[1:])\nprint("mAP50: 0.61")\n',
  );
  const registry = path.join(dir, 'experiments.yaml');
  await writeFile(
    registry,
    `experiments:\n  replay-co-ppe:\n    path: ${JSON.stringify(folder)}\n    site: { customer: replay-co, region: ci, plant: lab, zone: legacy }\n    task: { type: ppe }\n    entry_points:\n      train: { default: train_site.py, args_template: "--epochs {epochs}" }\n`,
  );
  const request = await wrapRequest('replay-co-ppe', { type: 'train', param: ['epochs=2'], registry, version: 'replay' });
  const id = legacyWorkflowId(request);
  await client.workflow.execute(WorkflowType.legacyRun, { taskQueue: CONTROL_QUEUE, workflowId: id, args: [request] });
  out.set('legacy-run', await history(id));
  await rm(dir, { recursive: true, force: true });
}

/**
 * The loop: an optimizer check whose rule always fires for replay-co (the pipeline's champion,
 * its recorded scenario), its optimizerAction (a batch_up retrain, then the new candidate's
 * guarded promotion and its registry move); and a guarded promotion that waits for approval,
 * is approved by update and soaks on timers with fleet readings.
 */
async function recordPromotions(client: Client, out: Recording, history: (id: string) => Promise<{ workflowId: string; history: History }>, model: string): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'gf-record-'));
  const policyFile = path.join(dir, 'optimizer.yaml');
  await writeFile(
    policyFile,
    `rules:
  - name: replay-batch-up
    when: { metric: det.mAP50, comparison: "<", threshold: 2, scope: { customer: replay-co } }
    action: { type: batch_up, factor: 2 }
    cooldown: 1h
    promotion: { gate: { metric: det.mAP50, min_improvement: -1 } }
`,
  );
  const check = await client.workflow.execute<typeof optimizer>('optimizer', { taskQueue: CONTROL_QUEUE, workflowId: 'replay-optimizer-check', args: [{ policyFile }] });
  const actionId = check.decisions.find((d) => d.decision === 'started')?.workflowId;
  if (!actionId) throw new Error(`record-histories: the optimizer check started no action: ${JSON.stringify(check.decisions)}`);
  const action = (await client.workflow.getHandle(actionId).result()) as OptimizerActionResult;
  out.set('optimizer', await history('replay-optimizer-check'));
  out.set('optimizer-action', await history(actionId));
  const [promoted] = action.promotions;
  if (!promoted) throw new Error('record-histories: the optimizer action had no candidate to promote');
  out.set('guarded-promotion', await history(promotionWorkflowId(promoted.model, promoted.version)));
  await rm(dir, { recursive: true, force: true });
  if (promoted.phase !== PromotionPhase.promoted) throw new Error(`record-histories: the action's promotion ended ${promoted.phase} (${promoted.gate})`);

  // the action's version is champion now: guard a promotion of the one it replaced, by approval and a soak
  const aliases = await new MlflowClient(loadSettings().mlflow.url).getRegisteredModel(model);
  const version = aliases?.aliases?.find((a) => a.alias === 'rollback')?.version;
  if (!version) throw new Error(`record-histories: ${model} has no rollback version after the action's promotion`);
  const gate = { model, version, promote: true, reason: 'recorded for replay' };
  const promotion = { gate: { metric: 'det.mAP50' as const, goal: 'maximize' as const, min_improvement: 0, max_accuracy_drop: 0.01 }, approval: 'required' as const, approval_timeout: '1h', soak: '3s', soak_check_every: '1s', rollback_when: [{ metric: 'det.mAP50' as const, comparison: '<' as const, threshold: 0 }] };
  const guarded = await client.workflow.start<typeof guardedPromotion>('guardedPromotion', { taskQueue: CONTROL_QUEUE, workflowId: promotionWorkflowId(model, version), args: [{ model, version, gate, promotion }] });
  await until('the promotion to wait for approval', async () => ((await guarded.query(promotionProgressQuery)).phase === PromotionPhase.awaitingApproval ? true : undefined));
  await guarded.executeUpdate(approveUpdate, { args: [{ by: 'recorder', reason: 'replay' }] });
  const ended = await guarded.result();
  if (ended.phase !== PromotionPhase.promoted) throw new Error(`record-histories: the approved promotion ended ${ended.phase}`);
  out.set('guarded-promotion-approved', await history(guarded.workflowId));
}

async function withWorkers<T>(settings: Settings, nativeConnection: NativeConnection, client: Client, fn: () => Promise<T>): Promise<T> {
  const fixtures = path.join(settings.repoRoot, 'test/fixtures');
  const quant = path.join(fixtures, 'fake_quant.py');
  const workflowBundle = await bundleWorkflowCode({ workflowsPath: path.join(settings.repoRoot, 'workflows/index.ts'), logger: new DefaultLogger('WARN') });
  const workers: Worker[] = [
    await createControlWorker({ settings, connection: nativeConnection, workflowBundle }),
    ...(await createGpuWorkers({
      settings: { ...settings, gpu: { ...settings.gpu, slots: 2 } },
      connection: nativeConnection,
      client,
      executors: { train: path.join(fixtures, 'fake_executor.py'), benchmark: quant, export: quant },
      env: { GF_FAKE_EPOCH_SECONDS: '0.2' },
      heartbeatIntervalMs: 500,
    })),
  ];
  const [first, ...rest] = workers;
  const runAll = (list: Worker[]): Promise<T> => (list.length ? list[0].runUntil(() => runAll(list.slice(1))) : fn());
  return first.runUntil(() => runAll(rest));
}

/**
 * Histories recorded by an older version of a workflow (`{name}-before-{change}.json`, e.g.
 * `pipeline-before-infer.json`): today's code takes its `patched()` path for them. It cannot
 * record them again, so they are never replaced; their workflow ids are carried over.
 */
const KEPT = /-before-[a-z0-9-]+$/;

/** The workflow ids of the kept histories, from the ids file as it is. */
async function keptIds(dir: string): Promise<Record<string, string>> {
  const ids = JSON.parse(await readFile(path.join(dir, WORKFLOW_IDS_FILE), 'utf8')) as Record<string, string>;
  return Object.fromEntries(Object.entries(ids).filter(([name]) => KEPT.test(name)));
}

/** Writes the set into a scratch folder beside test/histories, then swaps it for the old *.json (README.md and kept histories stay). */
async function save(recording: Recording, dir: string): Promise<void> {
  const scratch = path.join(dir, `.recording-${process.pid}`);
  await mkdir(scratch, { recursive: true });
  const ids = { ...Object.fromEntries([...recording].map(([name, r]) => [name, r.workflowId])), ...(await keptIds(dir)) };
  await writeFile(path.join(scratch, WORKFLOW_IDS_FILE), JSON.stringify(ids, null, 2) + '\n');
  for (const [name, { history }] of recording) await writeFile(path.join(scratch, `${name}.json`), historyToJSON(history) + '\n');
  for (const old of await readdir(dir)) if (old.endsWith('.json') && !KEPT.test(old.slice(0, -'.json'.length))) await rm(path.join(dir, old));
  for (const file of await readdir(scratch)) await rename(path.join(scratch, file), path.join(dir, file));
  await rm(scratch, { recursive: true, force: true });
  for (const [name, { history }] of recording) {
    console.log(`  ${name}.json: ${history.events!.length} events, ${Math.round((await stat(path.join(dir, `${name}.json`))).size / 1024)} KB`);
  }
}

async function main(): Promise<void> {
  const started = Date.now();
  Object.assign(process.env, TEST_STACK_ENV);
  const settings = loadSettings();
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const log = (line: string) => console.log(`[record-histories] ${line}`);
  log(`test stack in ${settings.stateDir}, Temporal at ${settings.temporal.address}`);
  try {
    await devUp(settings, { log });
    const nativeConnection = await connectTemporal(settings.temporal, (options) => NativeConnection.connect(options));
    const connection = await connectTemporal(settings.temporal, (options) => Connection.connect(options));
    const client = new Client({ connection, namespace: settings.temporal.namespace });
    try {
      const recording = await withWorkers(settings, nativeConnection, client, () => recordAll(client));
      await save(recording, path.join(settings.repoRoot, 'test/histories'));
    } finally {
      await connection.close();
      await nativeConnection.close();
    }
  } finally {
    await devDown(settings, { log });
    await rm(settings.stateDir, { recursive: true, force: true });
  }
  log(`recorded in ${Math.round((Date.now() - started) / 1000)} s`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
