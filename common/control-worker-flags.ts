/**
 * V8 flags the control worker's `node` runs with, on every launcher (`gflow dev up`, the image,
 * Compose, scripts/prod-check.sh; deploy-files.test.ts keeps the static ones equal to this).
 * Measured by `npm run bench:scale` (bench/README.md "Scale"), 700 trials:
 *
 * - `--no-turbo-escape`: a long sweep's control worker once optimized one large function whose
 *   TurboFan escape analysis took ~400 MB of compiler zone memory at once (found with heaptrack):
 *   resident memory stepped from ~600 to ~900 MB mid-run and stayed. Without escape analysis:
 *   no step, max 620–660 MB, same throughput.
 * - `--optimize-for-size`: V8 keeps its heaps and code small rather than fast: max 390 MB
 *   (goal 500) at ~6 % fewer trials per second — the worker waits on servers, not on its CPU.
 *
 * `NODE_OPTIONS` does not accept them: they go on the command line.
 */
export const CONTROL_WORKER_NODE_FLAGS: readonly string[] = ['--no-turbo-escape', '--optimize-for-size'];

/** The flags of this list that the running process was not started with. */
export function missingNodeFlags(execArgv: readonly string[] = process.execArgv, flags = CONTROL_WORKER_NODE_FLAGS): string[] {
  return flags.filter((flag) => !execArgv.includes(flag));
}
