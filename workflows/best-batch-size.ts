/**
 * The benchmark's answer to "which batch size do we deploy with": the highest throughput
 * (`sys.bs<N>.fps`) among the batch sizes whose p95 latency per batch call
 * (`sys.bs<N>.latency_ms_p95`) fits `benchmark.latency_budget_ms`, or among all of them without
 * a budget. When none fits, nothing is picked: a site that needs 20 ms must not be handed the
 * least bad batch size as if it met the budget, so the tag says so and no metric is logged.
 * Pure: the benchmark stage computes it from the executor's metrics.
 */

/** The run tag that states the answer (or that there is none) in words; the CLI prints it. */
export const BATCH_SIZE_ANSWER_TAG = 'sys.batch_size_answer';

export interface BatchSizeAnswer {
  /** `sys.best_batch_size` and `sys.best_fps`, only when a batch size was picked. */
  metrics: Record<string, number>;
  /** {@link BATCH_SIZE_ANSWER_TAG}: the choice and its figures, or why there is none. */
  tags: Record<string, string>;
  /** The tag's text. */
  summary: string;
}

interface Measured {
  batchSize: number;
  fps: number;
  p95?: number;
}

/** Undefined when the benchmark measured none of the batch sizes (no throughput logged). */
export function bestBatchSize(metrics: Record<string, number>, batchSizes: readonly number[], budgetMs?: number): BatchSizeAnswer | undefined {
  const measured: Measured[] = batchSizes.flatMap((batchSize) => {
    const fps = metrics[`sys.bs${batchSize}.fps`];
    return fps === undefined ? [] : [{ batchSize, fps, p95: metrics[`sys.bs${batchSize}.latency_ms_p95`] }];
  });
  if (measured.length === 0) return undefined;
  const fits = measured.filter((m) => budgetMs === undefined || (m.p95 !== undefined && m.p95 <= budgetMs));
  if (fits.length === 0) {
    const fastest = measured.filter((m) => m.p95 !== undefined).sort((a, b) => a.p95! - b.p95! || a.batchSize - b.batchSize)[0];
    const smallest = fastest ? ` (smallest p95: ${ms(fastest.p95!)} at batch ${fastest.batchSize})` : ' (no p95 latency measured)';
    return answer({}, `none: no batch size within the ${ms(budgetMs!)} latency budget${smallest}`);
  }
  const best = fits.reduce((a, b) => (b.fps > a.fps || (b.fps === a.fps && b.batchSize < a.batchSize) ? b : a));
  const latency = best.p95 === undefined ? '' : `, p95 ${ms(best.p95)}`;
  const budget = budgetMs === undefined ? 'no latency budget' : `within the ${ms(budgetMs)} budget`;
  return answer({ 'sys.best_batch_size': best.batchSize, 'sys.best_fps': best.fps }, `${best.batchSize}: ${best.fps.toFixed(1)} images/s${latency} (${budget})`);
}

function answer(metrics: Record<string, number>, summary: string): BatchSizeAnswer {
  return { metrics, tags: { [BATCH_SIZE_ANSWER_TAG]: summary }, summary };
}

/** Two decimals, enough for CPU and GPU latencies; a smaller value (a budget of 0.001 ms) keeps two significant digits instead of reading 0. */
const ms = (value: number) => `${Number(value.toFixed(2)) || Number(value.toPrecision(2))} ms`;
