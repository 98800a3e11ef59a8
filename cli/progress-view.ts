import { SingleBar, Presets } from 'cli-progress';
import type { SingleRunProgress } from '../common/contract';

/**
 * Shows a running workflow's progress: an epoch bar on a terminal, one line per change
 * elsewhere (CI logs, pipes).
 */
export class ProgressView {
  private bar?: SingleBar;
  private lastLine = '';

  constructor(private readonly interactive = Boolean(process.stdout.isTTY)) {}

  update(p: SingleRunProgress): void {
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
