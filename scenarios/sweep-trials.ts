import prand from 'pure-rand';
import { isIntegerParameter, rangeParameters, ScenarioSchema, spaceCombinations, SWEEPABLE, SweepStrategy, type Scenario, type Sweep } from './schema';
import { gridValue, sampledTrial, spacePoints, TrialSeeding } from './search-space';

/**
 * The trials of a sweep, computed one index at a time so that a sweep of any size needs no
 * list in workflow state. Pure and deterministic: the same scenario always gives the same trials.
 */

export type TrialParams = Record<string, string | number | boolean>;

/** How many distinct combinations the parameters allow (Infinity with a continuous range). */
export function gridSize(sweep: Pick<Sweep, 'parameters'>): number {
  return spaceCombinations(sweep.parameters);
}

/** A random sweep with a range draws each trial's values from its seed and index, rather than shuffling a grid. */
export function isSampled(sweep: Pick<Sweep, 'parameters' | 'strategy'>): boolean {
  return sweep.strategy === SweepStrategy.random && rangeParameters(sweep.parameters).length > 0;
}

/** The trials a sweep plans when it starts: `max_runs`, or (left out) every combination of its space. */
export function plannedRuns(sweep: Pick<Sweep, 'parameters' | 'max_runs'>): number {
  return sweep.max_runs ?? gridSize(sweep);
}

/** Trials the sweep runs: `max_runs`, or fewer when the space has fewer combinations (a sampled space has no such end). */
export function trialCount(sweep: Pick<Sweep, 'parameters' | 'strategy'>, maxRuns: number): number {
  return isSampled(sweep) ? maxRuns : Math.min(maxRuns, gridSize(sweep));
}

/** The combination at a grid position (first parameter varies slowest, as in itertools.product); a stepped range counts as its points. */
function gridPoint(sweep: Pick<Sweep, 'parameters'>, position: number): TrialParams {
  const entries = Object.entries(sweep.parameters);
  const params: TrialParams = {};
  let rest = position;
  for (let i = entries.length - 1; i >= 0; i--) {
    const [name, space] = entries[i];
    const points = spacePoints(space, !Array.isArray(space) && isIntegerParameter(name));
    params[name] = gridValue(name, space, rest % points);
    rest = Math.floor(rest / points);
  }
  return Object.fromEntries(entries.map(([name]) => [name, params[name]]));
}

/** Feistel rounds: with 8, every output bit depends on every input bit several times over. */
const ROUNDS = 8;
/** Outputs of the generator dropped before the keys are drawn: its first ones are close to the seed itself. */
const WARM_UP = 16;
const TWO_32 = 2 ** 32;

/**
 * The round keys of a seed's shuffle. All of the seed is used: its low and high 32-bit words
 * seed xoroshiro128+ (for a seed below 2^32 exactly as `xoroshiro128plus(seed)` does).
 */
function roundKeys(seed: number): number[] {
  const lo = seed % TWO_32 | 0;
  const hi = Math.floor(seed / TWO_32) | 0;
  const rng = prand.xoroshiro128plus.fromState([-1, ~lo, lo, hi]);
  prand.unsafeSkipN(rng, WARM_UP);
  return Array.from({ length: ROUNDS }, () => prand.unsafeUniformIntDistribution(-(2 ** 31), 2 ** 31 - 1, rng));
}

/** A keyed 32-bit mix (murmur3's finaliser): nearby inputs give unrelated outputs. */
function roundFunction(half: number, key: number): number {
  let h = half ^ key;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** A balanced Feistel network over [0, 4^halfBits): a bijection for any keys. halfBits ≤ 26 keeps every step exact in doubles. */
function feistel(x: number, halfBits: number, keys: number[]): number {
  const size = 2 ** halfBits;
  const mask = size - 1;
  let left = Math.floor(x / size);
  let right = x % size;
  for (const key of keys) [left, right] = [right, (left ^ roundFunction(right, key)) & mask];
  return left * size + right;
}

/**
 * The grid position of trial `index` in a seeded shuffle: a Feistel permutation of the next
 * even power of two, walked along its cycle until it lands inside the grid (cycle-walking keeps
 * it a permutation of [0, n)). Every combination exactly once, in an order the seed fixes, one
 * index at a time: no list of the grid, whatever its size (at most 2^52, checked by the schema).
 */
function randomPosition(sweep: Pick<Sweep, 'parameters' | 'seed'>, index: number): number {
  const n = gridSize(sweep);
  let bits = 1;
  while (2 ** bits < n) bits++;
  const halfBits = Math.ceil(bits / 2);
  const keys = roundKeys(sweep.seed);
  let position = index;
  do position = feistel(position, halfBits, keys);
  while (position >= n);
  return position;
}

/**
 * The parameters of trial `index` (0-based) of a grid or seeded-random sweep (a `tpe` sweep asks
 * `suggestTrials`): a grid's combination in order; a random sweep's in a seeded shuffle of the grid
 * or, with a range, drawn from the seed and the index (`seeding`: see TrialSeeding; `split` only for
 * sweeps started before the change).
 */
export function trialParams(sweep: Pick<Sweep, 'parameters' | 'strategy' | 'seed'>, index: number, seeding: TrialSeeding = TrialSeeding.mixed): TrialParams {
  if (sweep.strategy === SweepStrategy.tpe) throw new Error('a tpe sweep takes its trials from the suggestTrials activity, not from an index');
  if (isSampled(sweep)) return sampledTrial(sweep.parameters, isIntegerParameter, sweep.seed, index, seeding);
  return gridPoint(sweep, sweep.strategy === SweepStrategy.grid ? index : randomPosition(sweep, index));
}

/** One parameter as the suggestion executor reads it (executors/suggest.py): Optuna's three distributions. */
export type SpaceEntry =
  | { type: 'categorical'; choices: (string | number | boolean)[] }
  | { type: 'int' | 'float'; low: number; high: number; log: boolean; step?: number };

/** A `tpe` sweep's parameters as Optuna distributions: lists are categorical, ranges int or float by their field. */
export function searchSpace(sweep: Pick<Sweep, 'parameters'>): Record<string, SpaceEntry> {
  return Object.fromEntries(
    Object.entries(sweep.parameters).map(([name, space]): [string, SpaceEntry] => [
      name,
      Array.isArray(space)
        ? { type: 'categorical', choices: space }
        : { type: isIntegerParameter(name) ? 'int' : 'float', low: space.low, high: space.high, log: space.log, ...(space.step !== undefined && { step: space.step }) },
    ]),
  );
}

/** The scenario one trial runs: the sweep's values written into their blocks, as a single train run. */
export function trialScenario(scenario: Scenario, params: TrialParams): Scenario {
  // an augmentation block only where the scenario has one or a parameter sets one of its fields
  const augmented = scenario.augmentation !== undefined || Object.keys(params).some((name) => SWEEPABLE[name][0] === 'augmentation');
  const trial = {
    ...scenario,
    design: 'single' as const,
    sweep: undefined,
    training: { ...scenario.training! },
    model: { ...scenario.model },
    environment: { ...scenario.environment },
    augmentation: augmented ? { ...scenario.augmentation } : undefined,
  };
  for (const [name, value] of Object.entries(params)) {
    const [block, field] = SWEEPABLE[name];
    (trial[block] as Record<string, unknown>)[field] = value;
  }
  return ScenarioSchema.parse(trial);
}
