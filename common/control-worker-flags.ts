/**
 * V8 flags the control worker's `node` runs with, on every launcher (`gflow dev up`, the image,
 * Compose, scripts/prod-check.sh; deploy-files.test.ts keeps the static ones equal to this).
 *
 * `--no-turbo-escape`: a long sweep's control worker once optimized one large function whose
 * TurboFan escape analysis took ~400 MB of compiler zone memory at once (found with heaptrack,
 * bench/README.md "Scale"): resident memory stepped from ~600 to ~900 MB mid-run and stayed.
 * Without escape analysis the worker stays near 620–640 MB over 700 trials at the same
 * throughput. `NODE_OPTIONS` does not accept the flag: it goes on the command line.
 */
export const CONTROL_WORKER_NODE_FLAGS: readonly string[] = ['--no-turbo-escape'];

/** The flags of this list that the running process was not started with. */
export function missingNodeFlags(execArgv: readonly string[] = process.execArgv, flags = CONTROL_WORKER_NODE_FLAGS): string[] {
  return flags.filter((flag) => !execArgv.includes(flag));
}
