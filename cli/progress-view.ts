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
    if ('total' in p) {
      const finished = settledTrials(p);
      const summary = batchSummary(p);
      if (this.interactive) return this.showBar(' {phase} |{bar}| {value}/{total} trials {summary}', finished, p.total, { phase: p.phase, summary });
      return this.showLine(`${p.phase}: ${textBar(finished, p.total)} ${finished}/${p.total} ${summary}`);
    }
    const training = p.training;
    const summary = training ? metricSummary(training.metrics) : '';
    if (this.interactive && training) return this.showBar(' training |{bar}| epoch {value}/{total} {summary}', training.epoch, training.epochs, { summary });
    this.showLine(training ? `${p.phase}: epoch ${training.epoch}/${training.epochs} ${summary}` : `${p.phase}`);
  }

  private showBar(format: string, value: number, total: number, payload: Record<string, string>): void {
    this.bar ??= new SingleBar({ format, hideCursor: true }, Presets.shades_classic);
    if (!this.bar.isActive) this.bar.start(total, value, payload);
    this.bar.setTotal(total);
    this.bar.update(value, payload);
  }

  /** One line per change: logs and pipes get no redrawn bar. */
  private showLine(line: string): void {
    if (line === this.lastLine) return;
    this.stop();
    console.log(line);
    this.lastLine = line;
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

/** Trials of a sweep or comparison that ended, whichever way. */
export function settledTrials(p: BatchProgress): number {
  return p.done + p.failed + p.stopped + (p.cancelled ?? 0);
}

/** Counts and the best trial so far of a sweep or comparison; queued and cancelled trials only once there are some. */
export function batchSummary(p: BatchProgress): string {
  const counts = `running ${p.running}${p.queued ? ` (+${p.queued} prepared)` : ''}, done ${p.done}, failed ${p.failed}, stopped ${p.stopped}${p.cancelled ? `, cancelled ${p.cancelled}` : ''}`;
  return p.best ? `${counts}; best ${p.metric}=${p.best.value.toFixed(4)} ${JSON.stringify(p.best.params)}` : counts;
}
