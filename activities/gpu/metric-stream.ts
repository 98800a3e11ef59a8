import { LOG_BATCH_LIMITS } from '../tracking/log-batch';
import type { StepMetrics } from '../tracking/activities';

/** Delivers a group of epochs' metrics of one run (the GPU worker's `logSteps`), as one request when they fit. */
export type LogStepsFn = (steps: StepMetrics[]) => Promise<void>;

/**
 * Streams per-epoch metrics to MLflow while a job runs, one request at a time and in order.
 * Epochs that arrive while a request is in flight wait and then go together, as many as fit in
 * one `log-batch` request: a training that outpaces MLflow (fast epochs, a slow server, the end
 * of an outage) costs a request per ~1,000 values rather than one per epoch. A failed request is
 * retried with backoff so a short MLflow outage loses nothing; `close()` reports a group that
 * could not be delivered, failing the attempt instead of losing data.
 */
export class MetricStream {
  private pending: StepMetrics[] = [];
  private draining?: Promise<void>;
  private failure?: Error;

  constructor(
    private readonly log: LogStepsFn,
    private readonly retries = 5,
    private readonly baseDelayMs = 500,
    private readonly valuesPerRequest: number = LOG_BATCH_LIMITS.metrics,
  ) {}

  push(step: StepMetrics): void {
    this.pending.push(step);
    this.draining ??= this.drain();
  }

  async close(): Promise<void> {
    await this.draining;
    if (this.failure !== undefined) throw this.failure;
  }

  private async drain(): Promise<void> {
    while (this.pending.length > 0) await this.deliver(this.nextGroup());
    // cleared in the same tick that found nothing pending, so a later push starts a new drain
    this.draining = undefined;
  }

  /** The oldest epochs whose values fit one request; always at least one epoch (logSteps splits a larger one). */
  private nextGroup(): StepMetrics[] {
    let values = Object.keys(this.pending[0].metrics).length;
    let count = 1;
    while (count < this.pending.length) {
      values += Object.keys(this.pending[count].metrics).length;
      if (values > this.valuesPerRequest) break;
      count++;
    }
    return this.pending.splice(0, count);
  }

  private async deliver(group: StepMetrics[]): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.log(group);
        return;
      } catch (err) {
        if (attempt >= this.retries) {
          this.failure ??= err instanceof Error ? err : new Error(String(err));
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, this.baseDelayMs * 2 ** attempt));
      }
    }
  }
}
