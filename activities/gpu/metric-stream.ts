import type { LogBatchInput } from '../tracking/activities';

export type LogFn = (input: LogBatchInput) => Promise<void>;

/**
 * Streams per-epoch metrics to MLflow while a job runs, one request at a time and in order.
 * A failed request is retried with backoff so a short MLflow outage loses nothing; `close()`
 * reports a batch that could not be delivered, failing the attempt instead of losing data.
 */
export class MetricStream {
  private chain: Promise<void> = Promise.resolve();
  private failure?: Error;

  constructor(
    private readonly log: LogFn,
    private readonly retries = 5,
    private readonly baseDelayMs = 500,
  ) {}

  push(input: LogBatchInput): void {
    this.chain = this.chain.then(() => this.deliver(input));
  }

  async close(): Promise<void> {
    await this.chain;
    if (this.failure !== undefined) throw this.failure;
  }

  private async deliver(input: LogBatchInput): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.log(input);
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
