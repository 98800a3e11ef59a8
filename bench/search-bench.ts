import prand from 'pure-rand';
import { createSearchActivities, type SearchTrial } from '../activities/search/activities';
import { loadSettings } from '../common/settings';
import { braninScore, X1, X2 } from './branin';
import { envInt, machineAtStart, round3, saveResults } from './bench-env';

/**
 * Model-based search against random search on a synthetic objective with a known optimum
 * (bench/branin.ts: a Branin score, 1 at the optimum): trials until a score within 5 % of the
 * optimum (≥ 0.95), per seed and averaged over the seeds. TPE is the sweep's own suggestion
 * activity (executors/suggest.py through `suggestTrials`), asked `BENCH_SEARCH_BATCH` trials at a
 * time as a sweep with that many slots asks; random is seeded uniform sampling of the same space.
 * No stack needed. Env: BENCH_SEARCH_SEEDS (5), BENCH_SEARCH_TRIALS (TPE budget, 300),
 * BENCH_SEARCH_RANDOM_TRIALS (random's budget, 5000), BENCH_SEARCH_BATCH (4).
 */

const SEEDS = envInt('BENCH_SEARCH_SEEDS', 5);
const TPE_BUDGET = envInt('BENCH_SEARCH_TRIALS', 300);
const RANDOM_BUDGET = envInt('BENCH_SEARCH_RANDOM_TRIALS', 5000);
const BATCH = envInt('BENCH_SEARCH_BATCH', 4);
const TARGET = 0.95;

interface SeedResult {
  seed: number;
  /** 1-based trial that first scored ≥ TARGET; null when the budget ran out first. */
  trials_to_target: number | null;
  best: number;
  trials_run: number;
  seconds: number;
}

const space = { x1: { type: 'float' as const, ...X1, log: false }, x2: { type: 'float' as const, ...X2, log: false } };
const scoreOf = (p: Record<string, unknown>) => braninScore(p.x1 as number, p.x2 as number);

async function tpe(seed: number): Promise<SeedResult> {
  const search = createSearchActivities({ python: loadSettings().python });
  const started = performance.now();
  const trials: SearchTrial[] = [];
  let best = -Infinity;
  while (trials.length < TPE_BUDGET && best < TARGET) {
    const asked = await search.suggestTrials({ space, seed, firstIndex: trials.length, goal: 'maximize', count: Math.min(BATCH, TPE_BUDGET - trials.length), trials });
    for (const params of asked) {
      const value = scoreOf(params);
      trials.push({ params, value, state: 'complete' });
      if (value > best) best = value;
      if (best >= TARGET) break;
    }
  }
  return { seed, trials_to_target: best >= TARGET ? trials.length : null, best: round3(best), trials_run: trials.length, seconds: round3((performance.now() - started) / 1000) };
}

function random(seed: number): SeedResult {
  const started = performance.now();
  const rng = prand.xoroshiro128plus(seed);
  const unit = () => prand.unsafeUniformIntDistribution(0, 2 ** 31 - 1, rng) / (2 ** 31 - 1);
  let best = -Infinity;
  let n = 0;
  while (n < RANDOM_BUDGET && best < TARGET) {
    n++;
    best = Math.max(best, braninScore(X1.low + unit() * (X1.high - X1.low), X2.low + unit() * (X2.high - X2.low)));
  }
  return { seed, trials_to_target: best >= TARGET ? n : null, best: round3(best), trials_run: n, seconds: round3((performance.now() - started) / 1000) };
}

/** Mean trials to the target; a seed that missed counts its whole budget (so the mean is a lower bound) and is flagged. */
function summary(results: SeedResult[], budget: number) {
  const reached = results.filter((r) => r.trials_to_target !== null).length;
  const mean = results.reduce((sum, r) => sum + (r.trials_to_target ?? budget), 0) / results.length;
  return { mean_trials_to_target: round3(mean), seeds_reaching_target: reached, budget, lower_bound: reached < results.length };
}

async function main(): Promise<void> {
  const machine = machineAtStart();
  const seeds = Array.from({ length: SEEDS }, (_, i) => i + 1);
  const tpeResults: SeedResult[] = [];
  for (const seed of seeds) {
    tpeResults.push(await tpe(seed));
    console.log(`tpe seed ${seed}: ${JSON.stringify(tpeResults[tpeResults.length - 1])}`);
  }
  const randomResults = seeds.map(random);
  const runners = { tpe: summary(tpeResults, TPE_BUDGET), random: summary(randomResults, RANDOM_BUDGET) };
  const goalMet = !runners.tpe.lower_bound && runners.tpe.mean_trials_to_target < runners.random.mean_trials_to_target;
  await saveResults('search', {
    machine,
    objective: 'braninScore (bench/branin.ts): 1 / (1 + branin(x1, x2) − 0.397887), x1 ∈ [-5, 10], x2 ∈ [0, 15]; target ≥ 0.95',
    settings: { seeds, tpe_budget: TPE_BUDGET, random_budget: RANDOM_BUDGET, tpe_batch: BATCH, sampler: 'optuna 5.0.0 TPESampler(multivariate, constant_liar), seed mixed with the trial index' },
    runners,
    per_seed: { tpe: tpeResults, random: randomResults },
    goal: { text: 'TPE reaches within 5 % of the optimum in fewer trials than random, averaged over the seeds', met: goalMet },
  });
  const row = (name: string, rs: SeedResult[], s: ReturnType<typeof summary>) =>
    `| ${name} | ${rs.map((r) => r.trials_to_target ?? `>${r.trials_run}`).join(' | ')} | ${s.lower_bound ? '≥ ' : ''}${s.mean_trials_to_target} |`;
  console.log(`\n| runner | ${seeds.map((s) => `seed ${s}`).join(' | ')} | mean trials to ≥ ${TARGET} |`);
  console.log(`|---|${seeds.map(() => '---|').join('')}---|`);
  console.log(row(`TPE (batches of ${BATCH})`, tpeResults, runners.tpe));
  console.log(row('random', randomResults, runners.random));
  console.log(`\ngoal (TPE in fewer trials than random, mean over ${SEEDS} seeds): ${goalMet ? 'met' : 'NOT met'}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
