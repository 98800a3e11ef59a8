import type { WorkflowHandle } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { startScenario } from '../../cli/start-run';
import { parseScenarioText } from '../../scenarios/loader';
import { workflowId } from '../../scenarios/naming';
import type { Scenario } from '../../scenarios/schema';
import type { sweep } from '../../workflows/sweep';
import { childRuns, connectStack, paramsOf, tagsOf, withFakeGpu, workflowBundle, type Stack } from '../support/harness';

/**
 * Issue 15 items 2 and 3 on the real stack (Temporal, MLflow, S3; the stand-in executor trains):
 * a 3×3×3×3 grid without max_runs runs all 81 trials, and a random sweep samples its ranges
 * from its seed, each trial recording the values it drew, the parent the space.
 */

jest.setTimeout(900_000);

let stack: Stack;
let bundle: Awaited<ReturnType<typeof workflowBundle>>;

beforeAll(async () => {
  stack = await connectStack();
  bundle = await workflowBundle();
});

afterAll(async () => {
  await stack?.close();
});

function sweepScenario(version: string, sweepBlock: string): Scenario {
  return parseScenarioText(`
name: space-${version}
version: ${version}
type: train
design: sweep
site: { customer: space-co, region: ci, plant: lab, zone: bench }
task: { type: ppe, classes: [helmet, vest] }
model: { architecture: yolov8n.yaml, input_size: 64 }
dataset: { path: /nonexistent/data.yaml, version: synthetic-1 }
environment: { device: cpu, workers: 0 }
training: { epochs: 1, batch_size: 16, learning_rate: 0.01 }
sweep: ${sweepBlock}
`);
}

type History = temporal.api.history.v1.IHistory;
type Event = temporal.api.history.v1.IHistoryEvent;

/** The patch id a `core_patch` marker event records, if it is one. */
function patchIdOf(e: Event): string | undefined {
  const data = e.markerRecordedEventAttributes?.markerName === 'core_patch' ? e.markerRecordedEventAttributes.details?.['patch-data']?.payloads?.[0]?.data : undefined;
  return data ? (JSON.parse(Buffer.from(data).toString('utf8')) as { id: string }).id : undefined;
}

const patchIds = (history: History) => (history.events ?? []).flatMap((e) => patchIdOf(e) ?? []);

/** The history with one patch's markers naming another, deprecated change: event ids and everything else unchanged. */
function withPatchRenamed(history: History, from: string, to: string): History {
  const events = (history.events ?? []).map((e) => {
    if (patchIdOf(e) !== from) return e;
    const copy = structuredClone(e);
    const payload = copy.markerRecordedEventAttributes!.details!['patch-data'].payloads![0];
    // deprecated: core skips a marker of a change the code no longer asks about, as if it were absent
    payload.data = Buffer.from(JSON.stringify({ id: to, deprecated: true }));
    return copy;
  });
  return { ...history, events };
}

const start = (s: Scenario) => startScenario(stack.client, s) as unknown as Promise<WorkflowHandle<typeof sweep>>;

describe('sweep spaces (real Temporal, MLflow, S3; stand-in executor)', () => {
  it('a 3×3×3×3 grid without max_runs runs all 81 combinations, and the parent records 81 of 81', async () => {
    const scenario = sweepScenario('grid81', '{ parameters: { learning_rate: [0.001, 0.01, 0.1], batch_size: [8, 16, 32], epochs: [1, 2, 3], optimizer: [SGD, Adam, AdamW] }, parallel: 8 }');
    expect(scenario.sweep!.max_runs).toBeUndefined();
    const result = await withFakeGpu(stack, { bundle, slots: 8, hosts: 1, env: { GF_FAKE_EPOCH_SECONDS: '0.01' } }, async () => (await start(scenario)).result());

    expect(result).toEqual(expect.objectContaining({ total: 81, done: 81, failed: 0 }));
    const parent = await stack.mlflow.getRun(result.runId);
    expect(parent.info.status).toBe('FINISHED');
    expect(paramsOf(parent)).toEqual(expect.objectContaining({ 'sweep.combinations': '81', 'sweep.trials': '81', 'sweep.max_runs': '81' }));
    expect(tagsOf(parent)['sweep.total_runs']).toBe('81');

    const children = await childRuns(stack, result.runId);
    expect(children).toHaveLength(81);
    const combos = children.map((r) => {
      const p = paramsOf(r);
      return `${p.learning_rate}/${p.batch_size}/${p.epochs}/${p.optimizer}`;
    });
    expect(new Set(combos).size).toBe(81);
    // the later values of the first parameter ran too (the old default of 50 stopped in 0.1's first third)
    expect(combos.filter((c) => c.startsWith('0.1/'))).toHaveLength(27);
  });

  it('random samples ranges with the sweep seed: each trial records the values drawn for its index (pinned)', async () => {
    const scenario = sweepScenario(
      'ranges',
      '{ strategy: random, max_runs: 4, seed: 5, parallel: 4, parameters: { learning_rate: { min: 0.0001, max: 0.1, log: true }, batch_size: { int: [8, 32] }, augmentation.mosaic: { min: 0, max: 1 }, optimizer: [SGD, AdamW] } }',
    );
    const result = await withFakeGpu(stack, { bundle, slots: 4, env: { GF_FAKE_EPOCH_SECONDS: '0.01' } }, async () => (await start(scenario)).result());
    expect(result).toEqual(expect.objectContaining({ total: 4, done: 4 }));

    const parent = await stack.mlflow.getRun(result.runId);
    expect(JSON.parse(paramsOf(parent)['sweep.parameters'])).toEqual({
      learning_rate: { low: 0.0001, high: 0.1, log: true },
      batch_size: { low: 8, high: 32, log: false, int: true },
      'augmentation.mosaic': { low: 0, high: 1, log: false },
      optimizer: ['SGD', 'AdamW'],
    });
    expect(paramsOf(parent)).toEqual(expect.objectContaining({ 'sweep.combinations': 'Infinity', 'sweep.trials': '4', 'sweep.seed': '5' }));

    const children = (await childRuns(stack, result.runId)).sort((a, b) => Number(tagsOf(a)['sweep.index']) - Number(tagsOf(b)['sweep.index']));
    expect(children).toHaveLength(4);
    // seed 5's draws, written out (not computed by the code under test)
    const draws = [
      { learning_rate: '0.0027594870627515432', batch_size: '14', 'augmentation.mosaic': '0.5901511159631921', optimizer: 'AdamW' },
      { learning_rate: '0.011583078816844878', batch_size: '13', 'augmentation.mosaic': '0.9778527739267749', optimizer: 'AdamW' },
      { learning_rate: '0.053869440004333115', batch_size: '23', 'augmentation.mosaic': '0.7393358967317246', optimizer: 'AdamW' },
      { learning_rate: '0.004961319313867411', batch_size: '23', 'augmentation.mosaic': '0.7795319804128236', optimizer: 'SGD' },
    ];
    for (const [i, child] of children.entries()) {
      const drawn = draws[i];
      // the trial's scenario carries them too: train.* and aug.* params
      expect(paramsOf(child)).toEqual(expect.objectContaining({ ...drawn, 'train.learning_rate': drawn.learning_rate, 'aug.mosaic': drawn['augmentation.mosaic'] }));
    }

    // its history took patched('sweep-mixed-seeding') and replays; so does the same history with
    // that marker made one of another, deprecated change, which core skips: a sweep started
    // before the change, whose history has none, replays through the old draws
    const id = workflowId(scenario);
    const history = await stack.client.workflow.getHandle(id).fetchHistory();
    expect(patchIds(history)).toContain('sweep-mixed-seeding');
    await Worker.runReplayHistory({ workflowBundle: bundle, replayName: 'ranges-mixed' }, history, id);
    const before = withPatchRenamed(history, 'sweep-mixed-seeding', 'not-this-change');
    expect(patchIds(before)).not.toContain('sweep-mixed-seeding');
    await Worker.runReplayHistory({ workflowBundle: bundle, replayName: 'ranges-split' }, before, id);
  });
});
