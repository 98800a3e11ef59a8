import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { temporal } from '@temporalio/proto';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { workflowBundle } from '../support/harness';
import { historyFromJSON, WORKFLOW_IDS_FILE } from '../support/history-json';

/**
 * Replays the histories committed in test/histories/ (recorded by `npm run record-histories`)
 * against today's workflow code, without any server: a change to a workflow that running
 * workflows could not follow fails here. See test/histories/README.md.
 */

jest.setTimeout(120_000);

const DIR = path.resolve(__dirname, '../histories');
/** History file name (without .json) → its workflow id. */
const IDS = JSON.parse(readFileSync(path.join(DIR, WORKFLOW_IDS_FILE), 'utf8')) as Record<string, string>;
const NAMES = Object.keys(IDS).sort();

type History = temporal.api.history.v1.History;
const load = (name: string): History => historyFromJSON(readFileSync(path.join(DIR, `${name}.json`), 'utf8'));

let bundle: Awaited<ReturnType<typeof workflowBundle>>;

beforeAll(async () => {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  bundle = await workflowBundle();
});

const replay = (name: string, history: History) => Worker.runReplayHistory({ workflowBundle: bundle, replayName: `replay-${name}` }, history, IDS[name]);

/** The workflow type and the kinds of event that make a history worth replaying. */
function summary(history: History) {
  const events = history.events ?? [];
  return {
    type: events[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name,
    continuedAsNew: events.some((e) => e.workflowExecutionContinuedAsNewEventAttributes),
    cancelRequested: events.some((e) => e.workflowExecutionCancelRequestedEventAttributes),
    children: events.filter((e) => e.startChildWorkflowExecutionInitiatedEventAttributes).length,
  };
}

/** The ids of the `patched()` changes a history took (core records each as a `core_patch` marker). */
function patches(history: History): string[] {
  return history.events.flatMap((e) => {
    const marker = e.markerRecordedEventAttributes;
    const data = marker?.markerName === 'core_patch' ? marker.details?.['patch-data']?.payloads?.[0]?.data : undefined;
    return data ? [(JSON.parse(Buffer.from(data).toString('utf8')) as { id: string }).id] : [];
  });
}

/** The workflow ids of the children a history started, in order. */
const childIds = (history: History) => history.events.flatMap((e) => e.startChildWorkflowExecutionInitiatedEventAttributes?.workflowId ?? []);

describe('committed workflow histories', () => {
  it('are each named with their workflow id, and none goes unreplayed', () => {
    const files = readdirSync(DIR).filter((f) => f.endsWith('.json') && f !== WORKFLOW_IDS_FILE);
    expect(files.map((f) => f.slice(0, -'.json'.length)).sort()).toEqual(NAMES);
    expect(IDS['single-run']).toBe('gf/single/replay-co/ci-lab/bench/ppe-yolov8n-train-replay');
  });

  it('cover a single run, a pipeline, a sweep across continue-as-new and a cancelled sweep', () => {
    expect(NAMES).toEqual(expect.arrayContaining(['single-run', 'pipeline', 'sweep-run-1', 'sweep-run-2', 'sweep-cancelled']));
    expect(summary(load('single-run'))).toEqual({ type: 'singleRun', continuedAsNew: false, cancelRequested: false, children: 0 });
    expect(summary(load('pipeline'))).toEqual(expect.objectContaining({ type: 'pipeline', continuedAsNew: false }));
    expect(summary(load('pipeline')).children).toBeGreaterThanOrEqual(2);
    expect(summary(load('sweep-run-1'))).toEqual(expect.objectContaining({ type: 'sweep', continuedAsNew: true, children: 2 }));
    expect(load('sweep-run-2').events[0].workflowExecutionStartedEventAttributes!.continuedExecutionRunId).toBeTruthy();
    // two trials training and two prepared ahead
    expect(summary(load('sweep-cancelled'))).toEqual(expect.objectContaining({ type: 'sweep', continuedAsNew: false, cancelRequested: true, children: 4 }));
  });

  it('cover sweeps recorded before the zero-gap change (drained at continue-as-new) and after it (trials handed over)', () => {
    const signals = (name: string) => load(name).events.flatMap((e) => e.workflowExecutionSignaledEventAttributes?.signalName ?? []);
    for (const name of ['sweep-run-1-before-zero-gap', 'sweep-run-2-before-zero-gap', 'sweep-cancelled-before-zero-gap']) expect(patches(load(name))).toEqual([]);
    for (const name of ['sweep-run-1', 'sweep-run-2', 'sweep-run-3', 'sweep-cancelled']) expect(patches(load(name))).toContain('sweep-zero-gap');
    // before: a run's trials all end in that run; after: run 1 continues as new while its two trials run, and they report to a later run
    expect(summary(load('sweep-run-1-before-zero-gap'))).toEqual(expect.objectContaining({ continuedAsNew: true, children: 2 }));
    expect(signals('sweep-run-1')).not.toContain('trialEnded');
    expect([...signals('sweep-run-2'), ...signals('sweep-run-3')].filter((s) => s === 'trialEnded').length).toBeGreaterThanOrEqual(2);
  });

  it('cover a pipeline recorded before its infer stage (the patch not taken) and one with it', () => {
    const id = 'gf/pipeline/replay-co/ci-lab/bench/ppe-yolov8n-train-replay';
    const stages = [`${id}/train`, `${id}/quant`, 'gf/registry/replay-co.ci-lab.bench.ppe', 'gf/registry/replay-co.ci-lab.bench.ppe__onnx_fp32'];
    expect(IDS['pipeline-before-infer']).toBe(id);
    expect(patches(load('pipeline-before-infer'))).toEqual([]);
    expect(childIds(load('pipeline-before-infer'))).toEqual(stages);
    expect(patches(load('pipeline'))).toEqual(['pipeline-infer-stage']);
    expect(childIds(load('pipeline'))).toEqual([...stages, `${id}/infer`, `${id}/infer-onnx_fp32`]);
    expect(summary(load('pipeline-infer'))).toEqual({ type: 'singleRun', continuedAsNew: false, cancelRequested: false, children: 0 });
  });

  it('cover the optimizer loop: a check starting an optimizerAction, its guarded promotion, one approved by update and soaked; registry moves before and with their history', () => {
    const updates = (name: string) => load(name).events.flatMap((e) => e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.name ?? []);
    const timers = (name: string) => load(name).events.filter((e) => e.timerStartedEventAttributes).length;
    expect(patches(load('optimizer'))).toEqual(['optimizer-guarded-actions']);
    expect(childIds(load('optimizer'))).toEqual([IDS['optimizer-action']]);
    expect(IDS['optimizer-action']).toMatch(/^gf\/optimizer\/replay-batch-up\/replay-co\/ci-lab\/bench\/ppe\/\d+$/);
    expect(childIds(load('optimizer-action'))).toEqual([`${IDS['optimizer-action']}/action`, IDS['guarded-promotion']]);
    expect(IDS['guarded-promotion']).toMatch(/^gf\/promotion\/replay-co\.ci-lab\.bench\.ppe\/v\d+$/);
    expect(childIds(load('guarded-promotion'))).toEqual(['gf/registry/replay-co.ci-lab.bench.ppe']);
    // waits for approval (a timer for its timeout), takes the update, promotes, then soak timers and readings
    expect(updates('guarded-promotion-approved')).toEqual(['approve']);
    expect(timers('guarded-promotion-approved')).toBeGreaterThanOrEqual(2);
    expect(patches(load('registry-move-before-history'))).toEqual([]);
    expect(patches(load('registry-move'))).toEqual(['registry-move-history']);
  });

  it('cover a wrapped legacy script and the sweeps recorded before grids ran whole', () => {
    expect(summary(load('legacy-run'))).toEqual({ type: 'legacyRun', continuedAsNew: false, cancelRequested: false, children: 0 });
    expect(IDS['legacy-run']).toBe('gf/legacy/replay-co/ci-lab/legacy/replay-co-ppe-train-replay');
    for (const name of ['sweep-run-1-before-whole-grid', 'sweep-cancelled-before-whole-grid']) expect(patches(load(name))).toEqual(['sweep-zero-gap']);
    for (const name of ['sweep-run-1-before-relay', 'sweep-cancelled-before-relay']) expect(patches(load(name))).toEqual(['sweep-whole-grid', 'sweep-zero-gap']);
    for (const name of ['sweep-run-1', 'sweep-cancelled']) expect(patches(load(name))).toEqual(['sweep-whole-grid', 'sweep-zero-gap', 'sweep-slot-relay']);
  });

  it('cover sweeps recorded before jobs handed their slots to designated trials (no designation) and after', () => {
    const externalSignals = (name: string) => load(name).events.flatMap((e) => e.signalExternalWorkflowExecutionInitiatedEventAttributes?.signalName ?? []);
    for (const name of ['sweep-run-1-before-relay', 'sweep-run-2-before-relay', 'sweep-cancelled-before-relay']) {
      expect(patches(load(name))).not.toContain('sweep-slot-relay');
      expect(externalSignals(name)).not.toContain('gpuSuccessor');
    }
    // two trials training, two prepared: each of the two gets its successor
    expect(externalSignals('sweep-cancelled').filter((s) => s === 'gpuSuccessor')).toHaveLength(2);
    // and since the change, a run starts its trials in one workflow task, and ends with the report beside the registration
    const startTasks = (name: string) => new Set(load(name).events.flatMap((e) => e.startChildWorkflowExecutionInitiatedEventAttributes?.workflowTaskCompletedEventId?.toString() ?? []));
    expect(startTasks('sweep-cancelled-before-relay').size).toBe(4);
    expect(startTasks('sweep-cancelled').size).toBe(1);
    const scheduledIn = (name: string, activity: string) => load(name).events.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === activity)?.activityTaskScheduledEventAttributes?.workflowTaskCompletedEventId?.toString();
    expect(scheduledIn('sweep-run-3', 'sweepReport')).toBe(scheduledIn('sweep-run-3', 'registerModel'));
  });

  it.each(NAMES)('%s replays against the workflow code as it is now', async (name) => {
    await expect(replay(name, load(name))).resolves.toBeUndefined();
  });

  it('a history whose recorded commands differ from what the code does fails the replay (nondeterminism)', async () => {
    const history = load('single-run');
    const scheduled = history.events.find((e) => e.activityTaskScheduledEventAttributes)!.activityTaskScheduledEventAttributes!;
    expect(scheduled.activityType!.name).toBe('ensureExperiment');
    scheduled.activityType!.name = 'ensureExperimentRenamed';
    await expect(replay('single-run', history)).rejects.toBeInstanceOf(DeterminismViolationError);
  });
});
