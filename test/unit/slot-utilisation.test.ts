import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ChartRenderError, renderChart, type ChartSpec } from '../../activities/reports/chart';
import { hostOf, isGpuJobQueue, readHistory, timestampMs } from '../../cli/gpu-jobs';
import { CliError } from '../../cli/cli-error';
import { buildProgram } from '../../cli/gflow';
import { defaultChartFile, utilisationText } from '../../cli/report-commands';
import { quantile, slotUtilisation, type JobSpan } from '../../cli/slot-utilisation';
import { temporal } from '@temporalio/proto';
import { loadSettings } from '../../common/settings';

/** Seconds after an arbitrary origin, as epoch milliseconds. */
const T0 = 1_795_000_000_000;
const at = (s: number) => T0 + s * 1000;
const job = (host: string, start: number, end: number, outcome: JobSpan['outcome'] = 'completed'): JobSpan => ({ host, start: at(start), end: at(end), outcome });

/**
 * Host a runs two jobs at once (two slots); host b one at a time. Placement: J2 overlaps J1 and
 * opens slot 2; J3 (at 6 s) takes slot 2 (free since 5 s: gap 1 s); J4 (at 10.5 s) finds both
 * slots free and takes slot 1, the one freed last (at 10 s: gap 0.5 s); J6 follows J5 at once.
 */
const SPANS: JobSpan[] = [job('a', 0, 10), job('a', 1, 5), job('a', 6, 9), job('a', 10.5, 20), job('b', 2, 4), job('b', 4, 8, 'failed')];

describe('slotUtilisation', () => {
  it('places jobs on slots and totals busy time, idle gaps and makespan', () => {
    const { slots, totals } = slotUtilisation(SPANS);
    expect(slots).toEqual([
      {
        host: 'a',
        slot: 1,
        jobs: [
          { start: 0, end: 10, outcome: 'completed' },
          { start: 10.5, end: 20, outcome: 'completed' },
        ],
        busy_s: 19.5,
        busy_pct: 97.5,
      },
      {
        host: 'a',
        slot: 2,
        jobs: [
          { start: 1, end: 5, outcome: 'completed' },
          { start: 6, end: 9, outcome: 'completed' },
        ],
        busy_s: 7,
        busy_pct: 35,
      },
      {
        host: 'b',
        slot: 1,
        jobs: [
          { start: 2, end: 4, outcome: 'completed' },
          { start: 4, end: 8, outcome: 'failed' },
        ],
        busy_s: 6,
        busy_pct: 30,
      },
    ]);
    expect(totals).toEqual({ jobs: 6, hosts: 2, slots: 3, makespan_s: 20, busy_s: 32.5, busy_pct: 54.2, idle_gap_p50_s: 0.5, idle_gap_p95_s: 1, idle_gaps: 3 });
  });

  it('does not depend on the order the jobs come in', () => {
    expect(slotUtilisation([...SPANS].reverse())).toEqual(slotUtilisation(SPANS));
  });

  it('has no gaps when no slot ran two jobs, and nothing at all without jobs', () => {
    expect(slotUtilisation([job('a', 0, 4), job('a', 1, 3)]).totals).toEqual({ jobs: 2, hosts: 1, slots: 2, makespan_s: 4, busy_s: 6, busy_pct: 75, idle_gap_p50_s: null, idle_gap_p95_s: null, idle_gaps: 0 });
    expect(slotUtilisation([])).toEqual({ slots: [], totals: { jobs: 0, hosts: 0, slots: 0, makespan_s: 0, busy_s: 0, busy_pct: 0, idle_gap_p50_s: null, idle_gap_p95_s: null, idle_gaps: 0 } });
  });

  it('takes quantiles as the sweep bench does (index ⌊q·n⌋ of the sorted values)', () => {
    expect(quantile([0.3, 0.1, 0.2, 0.4], 0.5)).toBe(0.3);
    expect(quantile([0.3, 0.1, 0.2, 0.4], 0.95)).toBe(0.4);
    expect(quantile([], 0.5)).toBeNull();
  });
});

describe('utilisationText', () => {
  it('prints the totals, then one line per slot', () => {
    expect(utilisationText('gf/sweep/x', slotUtilisation(SPANS))).toEqual([
      'GPU slots of gf/sweep/x: 6 jobs on 3 slot(s) of 2 host(s), makespan 20.00 s',
      '  busy 54.2 % (32.50 s of GPU time); idle gap between jobs p50 0.50 s, p95 1.00 s (3 gaps)',
      '  slot                               jobs        busy  busy %',
      '  a #1                                  2     19.50 s    97.5',
      '  a #2                                  2      7.00 s    35.0',
      '  b #1                                  2      6.00 s    30.0',
    ]);
  });

  it('gflow report utilisation refuses an --out folder that does not exist, before contacting Temporal', async () => {
    // port 1: had the command tried to connect, it would fail with "cannot reach Temporal" and exit 1
    const program = buildProgram(loadSettings({ TEMPORAL_ADDRESS: '127.0.0.1:1' })).exitOverride();
    const failure = await program.parseAsync(['node', 'gflow', 'report', 'utilisation', 'gf/sweep/x', '--out', '/nonexistent/folder/chart.png']).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(CliError);
    expect(failure).toMatchObject({ exitCode: 2, message: '--out: folder /nonexistent/folder does not exist' });
  });

  it('names the default chart after the workflow id, as a plain file name', () => {
    expect(defaultChartFile('gf/sweep/acme/eu-p1/weld/ppe-yolov8n-train-v2')).toBe('utilisation-gf_sweep_acme_eu-p1_weld_ppe-yolov8n-train-v2.png');
  });
});

describe('readHistory', () => {
  const ts = (seconds: number | string, nanos = 0) => ({ seconds, nanos });
  /** Decoded as the client decodes a fetched history: event ids and seconds become Longs. */
  const history = (events: object[]) => events.map((e) => temporal.api.history.v1.HistoryEvent.fromObject(e));
  const EVENTS = history([
    { eventId: 1, eventTime: ts(1000), workflowExecutionStartedEventAttributes: { continuedExecutionRunId: 'run-0' } },
    { eventId: 5, eventTime: ts(1000), activityTaskScheduledEventAttributes: { activityId: '1', activityType: { name: 'train' }, taskQueue: { name: 'guardianflow-gpu-default' } } },
    { eventId: 6, eventTime: ts(1000), activityTaskScheduledEventAttributes: { activityId: '2', activityType: { name: 'uploadText' }, taskQueue: { name: 'guardianflow' } } },
    { eventId: 7, eventTime: ts(1000, 500_000_000), activityTaskStartedEventAttributes: { scheduledEventId: 5, identity: '4242@gpu-host-a', attempt: 2 } },
    { eventId: 8, eventTime: ts('1012', 250_000_000), activityTaskCompletedEventAttributes: { scheduledEventId: 5, startedEventId: 7 } },
    { eventId: 9, eventTime: ts(1013), activityTaskScheduledEventAttributes: { activityId: '3', activityType: { name: 'uploadArtifacts' }, taskQueue: { name: 'guardianflow-gpu-default@gpu-host-a' } } },
    { eventId: 10, eventTime: ts(1014), activityTaskScheduledEventAttributes: { activityId: '4', activityType: { name: 'benchmark' }, taskQueue: { name: 'guardianflow-gpu-default' } } },
    { eventId: 11, eventTime: ts(1015), childWorkflowExecutionStartedEventAttributes: { workflowExecution: { workflowId: 'w/trial-0', runId: 'r-1' } } },
    { eventId: 12, eventTime: ts(1016), activityTaskScheduledEventAttributes: { activityId: '5', activityType: { name: 'train' }, taskQueue: { name: 'guardianflow-gpu-default' } } },
    { eventId: 13, eventTime: ts(1017), activityTaskStartedEventAttributes: { scheduledEventId: 12, identity: '77@gpu-host-b', attempt: 3 } },
    { eventId: 14, eventTime: ts(1019), activityTaskTimedOutEventAttributes: { scheduledEventId: 12, startedEventId: 13 } },
  ]);

  it('finds the GPU jobs (pool queue only) with the identity, start and end of their last attempt, open jobs, children and the predecessor run', () => {
    const read = readHistory('w', EVENTS);
    expect(read.jobs).toEqual([
      { workflowId: 'w', activity: 'train', worker: '4242@gpu-host-a', host: 'gpu-host-a', start: 1_000_500, end: 1_012_250, outcome: 'completed' },
      { workflowId: 'w', activity: 'train', worker: '77@gpu-host-b', host: 'gpu-host-b', start: 1_017_000, end: 1_019_000, outcome: 'timed_out' },
    ]);
    expect([...read.open]).toEqual([['4', 'benchmark']]);
    expect(read.children).toEqual([{ workflowId: 'w/trial-0', runId: 'r-1' }]);
    expect(read.continuedFrom).toBe('run-0');
    expect(read.closed).toBe(false);
  });

  it('sees a run that continued as new as closed', () => {
    expect(readHistory('w', [...EVENTS, ...history([{ eventId: 15, eventTime: ts(1020), workflowExecutionContinuedAsNewEventAttributes: {} }])]).closed).toBe(true);
  });

  it('reads timestamps whose seconds are numbers, strings or Longs', () => {
    expect(timestampMs({ seconds: 12, nanos: 345_678_901 })).toBe(12_345);
    expect(timestampMs({ seconds: '12', nanos: 0 })).toBe(12_000);
    expect(timestampMs({ seconds: { toString: () => '1795599256' }, nanos: 460_183_029 })).toBe(1_795_599_256_460);
    expect(() => timestampMs(undefined)).toThrow('timestamp missing');
  });

  it('tells GPU pool queues from host upload queues, and hosts from worker identities', () => {
    expect(isGpuJobQueue('guardianflow-gpu-default')).toBe(true);
    expect(isGpuJobQueue('guardianflow-gpu-default@host-1')).toBe(false);
    expect(isGpuJobQueue('guardianflow')).toBe(false);
    expect(hostOf('4242@gpu-host-a')).toBe('gpu-host-a');
    expect(hostOf('no-at-sign')).toBe('no-at-sign');
  });
});

describe('the timeline chart (executors/charts.py)', () => {
  const { python } = loadSettings();
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'gflow-timeline-test-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  const spec = (): ChartSpec => ({ kind: 'timeline', title: 'GPU slots', lanes: slotUtilisation(SPANS).slots.map((s) => ({ label: `${s.host} #${s.slot}`, jobs: s.jobs })) });

  it('draws one row per slot as a PNG', async () => {
    const out = path.join(dir, 'timeline.png');
    await renderChart(python, spec(), out);
    const bytes = await readFile(out);
    expect(bytes.subarray(1, 4).toString('latin1')).toBe('PNG');
    expect(bytes.readUInt32BE(16)).toBe(900);
    expect(bytes.readUInt32BE(20)).toBe(550);
  }, 60_000);

  it('refuses a job that ends before it starts, naming it', async () => {
    const bad = spec() as Extract<ChartSpec, { kind: 'timeline' }>;
    bad.lanes[1].jobs[0] = { start: 5, end: 1, outcome: 'completed' };
    const failure = await renderChart(python, bad, path.join(dir, 'bad.png')).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(ChartRenderError);
    expect((failure as Error).message).toMatch(/lanes\[1\]\.jobs\[0\]\.end: expected a number >= start \(5\), got 1/);
  }, 60_000);

  it('refuses an outcome it has no colour for', async () => {
    const bad = spec() as Extract<ChartSpec, { kind: 'timeline' }>;
    (bad.lanes[0].jobs[1] as { outcome: string }).outcome = 'lost';
    await expect(renderChart(python, bad, path.join(dir, 'bad.png'))).rejects.toThrow(/lanes\[0\]\.jobs\[1\]\.outcome: expected one of completed, failed, cancelled, timed_out, running, got "lost"/);
  }, 60_000);
});
