import { batchSummary, ProgressView, textBar } from '../../cli/progress-view';
import { printResult } from '../../cli/result-report';
import { BatchPhase, type BatchProgress } from '../../common/contract';
import { loadSettings } from '../../common/settings';
import type { SweepResult } from '../../workflows/sweep';

const settings = loadSettings({ GF_TEMPORAL_UI_URL: 'http://temporal', MLFLOW_TRACKING_URI: 'http://mlflow' });

function printed(act: () => void): string[] {
  const lines: string[] = [];
  const log = jest.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void lines.push(args.join(' ')));
  try {
    act();
  } finally {
    log.mockRestore();
  }
  return lines;
}

const progress = (over: Partial<BatchProgress>): BatchProgress => ({ phase: BatchPhase.running, metric: 'det.mAP50', total: 4, running: 2, done: 1, failed: 0, stopped: 0, ...over });

describe('batch progress', () => {
  it('draws finished of total, counts and the best trial', () => {
    expect(textBar(1, 4, 8)).toBe('[##......]');
    expect(textBar(5, 4, 4)).toBe('[####]');
    expect(textBar(0, 0, 4)).toBe('[....]');
    expect(batchSummary(progress({ best: { index: 0, runId: 'r0', value: 0.5, params: { learning_rate: 0.01 } } }))).toBe(
      'running 2, done 1, failed 0, stopped 0; best det.mAP50=0.5000 {"learning_rate":0.01}',
    );
    expect(batchSummary(progress({ queued: 2, cancelled: 1 }))).toBe('running 2 (+2 prepared), done 1, failed 0, stopped 0, cancelled 1');
  });

  it('prints a line only when it changes, off a terminal', () => {
    const view = new ProgressView(false);
    const lines = printed(() => {
      view.update(progress({}));
      view.update(progress({}));
      view.update(progress({ running: 1, done: 2 }));
    });
    expect(lines).toEqual(['running: [#####...............] 1/4 running 2, done 1, failed 0, stopped 0', 'running: [##########..........] 2/4 running 1, done 2, failed 0, stopped 0']);
  });
});

describe('a finished sweep', () => {
  it('names the parent run, counts, best trial, model and links', () => {
    const result: SweepResult = {
      experimentId: '7',
      runId: 'p'.repeat(32),
      runName: 'ppe-yolov8n-sweep-v1',
      total: 4,
      done: 3,
      failed: 1,
      stopped: 0,
      cancelled: 0,
      best: { index: 2, runId: 'b'.repeat(32), value: 0.61234, params: { learning_rate: 0.01, batch_size: 8 } },
      model: { name: 'c.r-p.z.ppe', version: '3', alias: 'candidate' },
      gpuSecondsSaved: 0,
    };
    expect(printed(() => printResult(settings, 'gf/sweep/x', result))).toEqual([
      'sweep ppe-yolov8n-sweep-v1 finished: 3 done, 1 failed, 0 stopped early of 4',
      `  run id:   ${'p'.repeat(32)}`,
      `  best:     trial 2 run ${'b'.repeat(32)} value 0.6123 {"learning_rate":0.01,"batch_size":8}`,
      '  model:    c.r-p.z.ppe@candidate (version 3)',
      `  MLflow:   http://mlflow/#/experiments/7/runs/${'p'.repeat(32)}`,
      '  registry: http://mlflow/#/models/c.r-p.z.ppe/versions/3',
      `  Temporal: http://temporal/namespaces/default/workflows/${encodeURIComponent('gf/sweep/x')}`,
    ]);
  });
});
