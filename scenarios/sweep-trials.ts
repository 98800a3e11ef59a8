import prand from 'pure-rand';
import { ScenarioSchema, SWEEPABLE, type Scenario, type Sweep, type SweepParameter } from './schema';

/**
 * The trials of a sweep, computed one index at a time so that a sweep of any size needs no
 * list in workflow state. Pure and deterministic: the same scenario always gives the same trials.
 */

export type TrialParams = Record<string, string | number | boolean>;

/** How many distinct combinations the parameter lists allow. */
export function gridSize(sweep: Pick<Sweep, 'parameters'>): number {
  return Object.values(sweep.parameters).reduce((n, values) => n * values.length, 1);
}

/** Trials the sweep runs: `max_runs`, or fewer when the grid has fewer combinations. */
export function trialCount(sweep: Pick<Sweep, 'parameters'>, maxRuns: number): number {
  return Math.min(maxRuns, gridSize(sweep));
}

/** The combination at a grid position (first parameter varies slowest, as in itertools.product). */
function gridPoint(sweep: Pick<Sweep, 'parameters'>, position: number): TrialParams {
  const entries = Object.entries(sweep.parameters);
  const params: TrialParams = {};
  let rest = position;
  for (let i = entries.length - 1; i >= 0; i--) {
    const [name, values] = entries[i];
    params[name] = values[rest % values.length];
    rest = Math.floor(rest / values.length);
  }
  return Object.fromEntries(entries.map(([name]) => [name, params[name]]));
}

const gcd = (a: bigint, b: bigint): bigint => (b === 0n ? a : gcd(b, a % b));

/**
 * A seeded permutation of the grid, i ↦ (a·i + b) mod N with a coprime to N: every
 * combination at most once, in an order fixed by the seed, without materialising the grid.
 */
function randomPosition(sweep: Pick<Sweep, 'parameters' | 'seed'>, index: number): number {
  const n = BigInt(gridSize(sweep));
  if (n === 1n) return 0;
  const rng = prand.xoroshiro128plus(sweep.seed);
  let a = BigInt(prand.unsafeUniformIntDistribution(1, Number.MAX_SAFE_INTEGER, rng)) % n || 1n;
  while (gcd(a, n) !== 1n) a = (a % (n - 1n)) + 1n;
  const b = BigInt(prand.unsafeUniformIntDistribution(0, Number.MAX_SAFE_INTEGER, rng)) % n;
  return Number((a * BigInt(index) + b) % n);
}

/** The parameters of trial `index` (0-based) of a grid or seeded-random sweep. */
export function trialParams(sweep: Pick<Sweep, 'parameters' | 'strategy' | 'seed'>, index: number): TrialParams {
  return gridPoint(sweep, sweep.strategy === 'grid' ? index : randomPosition(sweep, index));
}

/** The scenario one trial runs: the sweep's values written into their blocks, as a single train run. */
export function trialScenario(scenario: Scenario, params: TrialParams): Scenario {
  const trial = { ...scenario, design: 'single' as const, sweep: undefined, training: { ...scenario.training! }, model: { ...scenario.model }, environment: { ...scenario.environment } };
  for (const [name, value] of Object.entries(params)) {
    const [block, field] = SWEEPABLE[name as SweepParameter];
    (trial[block] as Record<string, unknown>)[field] = value;
  }
  return ScenarioSchema.parse(trial);
}
