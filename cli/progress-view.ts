import { SingleBar, Presets } from 'cli-progress';
import type { BatchProgress, SingleRunProgress } from '../common/contract';

/**
 * Shows a running workflow's progress: an epoch bar on a terminal, one line per change
 * elsewhere (CI logs, pipes).
 */
export class ProgressView {
  private bar?: SingleBar;
  private lastLine = '';

  constructor(private readonly interactive = Boolean(process.stdout.isTTY)) {}

  update(p: SingleRunProgress | BatchProgress): void {
    if ('total' in p) return this.updateBatch(p);
    const training = p.training;
    const summary = training ? metricSummary(training.metrics) : '';
    if (this.interactive && training) {
      this.bar ??= new SingleBar({ format: ' training |{bar}| epoch {value}/{total} {summary}', hideCursor: true }, Presets.shades_classic);
      if (!this.bar.isActive) this.bar.start(training.epochs, training.epoch, { summary });
      this.bar.setTotal(training.epochs);
      this.bar.update(training.epoch, { summary });
      return;
    }
    const line = training ? `${p.phase}: epoch ${training.epoch}/${training.epochs} ${summary}` : `${p.phase}`;
    if (line !== this.lastLine) {
      this.stop();
      console.log(line);
      this.lastLine = line;
    }
  }

  /** Trials of a sweep or comparison: finished of total, what runs, the best so far. */
  private updateBatch(p: BatchProgress): void {
    const finished = p.done + p.failed + p.stopped;
    const summary = batchSummary(p);
    if (this.interactive) {
      this.bar ??= new SingleBar({ format: ' {phase} |{bar}| {value}/{total} trials {summary}', hideCursor: true }, Presets.shades_classic);
      if (!this.bar.isActive) this.bar.start(p.total, finished, { phase: p.phase, summary });
      this.bar.setTotal(p.total);
      this.bar.update(finished, { phase: p.phase, summary });
      return;
    }
    const line = `${p.phase}: ${textBar(finished, p.total)} ${finished}/${p.total} ${summary}`;
    if (line !== this.lastLine) {
      console.log(line);
      this.lastLine = line;
    }
  }

  stop(): void {
    this.bar?.stop();
    this.bar = undefined;
  }
}

const KEY_METRICS = ['det.mAP50', 'det.mAP50_95', 'det.precision', 'det.recall', 'det.box_loss'];

/** The few metrics a person looks at first, formatted `key=value`. */
export function metricSummary(metrics: Record<string, number>): string {
  return KEY_METRICS.filter((k) => k in metrics)
    .map((k) => `${k}=${metrics[k].toFixed(4)}`)
    .join(' ');
}

/** `[#####.....]`: progress in logs and `gflow status`, where no live bar can be drawn. */
export function textBar(value: number, total: number, width = 20): string {
  const filled = total > 0 ? Math.round((Math.min(value, total) / total) * width) : 0;
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
}

/** Counts and the best trial so far of a sweep or comparison. */
export function batchSummary(p: BatchProgress): string {
  const counts = `running ${p.running}, done ${p.done}, failed ${p.failed}, stopped ${p.stopped}`;
  return p.best ? `${counts}; best ${p.metric}=${p.best.value.toFixed(4)} ${JSON.stringify(p.best.params)}` : counts;
}
