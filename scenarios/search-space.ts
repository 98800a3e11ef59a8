import prand from 'pure-rand';
import type { ParameterSpace, SearchRange } from './schema';

/**
 * The values a sweep parameter's space offers: a list's items, a stepped range's points, or (for
 * `random` sweeps with a range) a value sampled from the sweep's seed and the trial's index.
 * Pure and index by index, so the workflow computes any trial (a resumed or continued-as-new
 * sweep gets the same trial i) without keeping a list of them.
 */

export type TrialValue = string | number | boolean;

/** Relative slack for float steps: (0.3 − 0.1) / 0.1 is 1.9999999999999998, still two steps. */
const STEP_SLACK = 1e-9;

/** Steps of `step` from low to high, as a float (whole when the step divides the range). */
function stepsIn(range: SearchRange & { step: number }): number {
  return (range.high - range.low) / range.step;
}

/** Whether `step` divides high − low (up to float rounding), so that high is one of the range's points. */
export function stepDividesRange(range: SearchRange & { step: number }): boolean {
  const steps = stepsIn(range);
  return Math.abs(steps - Math.round(steps)) <= STEP_SLACK * Math.max(1, steps);
}

/** Points of a stepped range: low, low + step, …, high. */
export function rangePoints(range: SearchRange & { step: number }): number {
  return Math.floor(stepsIn(range) + STEP_SLACK * Math.max(1, stepsIn(range))) + 1;
}

/** Point k of a stepped range, rounded to 12 significant digits so 0.1 + 2 × 0.1 is 0.3, not 0.30000000000000004. */
export function rangePoint(range: SearchRange & { step: number }, k: number): number {
  return Number((range.low + k * range.step).toPrecision(12));
}

const hasStep = (range: SearchRange): range is SearchRange & { step: number } => range.step !== undefined;

/** How many distinct values a space offers: a list's length, a stepped or integer range's points; Infinity for a continuous range. */
export function spacePoints(space: ParameterSpace, integer: boolean): number {
  if (Array.isArray(space)) return space.length;
  if (hasStep(space)) return rangePoints(space);
  return integer ? space.high - space.low + 1 : Infinity;
}

/** Value k of a space walked as a grid: a list's item, or a stepped range's point (the schema refuses a grid range without a step). */
export function gridValue(name: string, space: ParameterSpace, k: number): TrialValue {
  if (Array.isArray(space)) return space[k];
  if (!hasStep(space)) throw new Error(`sweep.parameters.${name}: a range without a step has no grid points`);
  return rangePoint(space, k);
}

const TWO_32 = 2 ** 32;
/** Outputs dropped before the first draw: a generator's first outputs stay close to its state. */
const WARM_UP = 16;

/** murmur3's 32-bit finaliser: nearby words (seed 0 and 1, trial 7 and 8) become unrelated states. */
function mix32(word: number): number {
  let h = word | 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/**
 * How a trial's generator is seeded from the sweep's seed and the trial's index. `mixed`: every
 * state word hashes all four words (seed and index) together. `split` (sweeps started before
 * `patched('sweep-mixed-seeding')`): each state word came from one word alone, so every output
 * bit of xoroshiro128+ that is linear in its state (its lowest bit, which picks between two list
 * items) was a part from the index XOR a part from the seed: all seeds drew the same choices,
 * or all the opposite ones.
 */
export const TrialSeeding = { split: 'split', mixed: 'mixed' } as const;
export type TrialSeeding = (typeof TrialSeeding)[keyof typeof TrialSeeding];

/** Distinct constants per state word keep (seed, index) and (index, seed) apart. */
const SEEDING_CONSTANTS = [0x9e3779b9, 0x7f4a7c15, 0x85ebca6b, 0xc2b2ae35];

/** The generator of one trial: all of the seed (up to 2^53) and the trial's index, nothing else. */
function trialGenerator(seed: number, index: number, seeding: TrialSeeding): prand.RandomGenerator {
  const words = [seed % TWO_32, Math.floor(seed / TWO_32), index % TWO_32, Math.floor(index / TWO_32)];
  const state =
    seeding === TrialSeeding.split
      ? words.map((word, i) => mix32(word ^ SEEDING_CONSTANTS[i]))
      : SEEDING_CONSTANTS.map((constant) => words.reduce((h, word) => mix32(h ^ word), constant));
  // an all-zero state would stay zero; 2^-128 unlikely, but cheap to rule out
  if (!state.some((word) => word !== 0)) state[0] = 1;
  const rng = prand.xoroshiro128plus.fromState(state);
  prand.unsafeSkipN(rng, WARM_UP);
  return rng;
}

/** A uniform double in [0, 1) from 53 random bits. */
function unit(rng: prand.RandomGenerator): number {
  const high = prand.unsafeUniformIntDistribution(0, 2 ** 26 - 1, rng);
  const low = prand.unsafeUniformIntDistribution(0, 2 ** 27 - 1, rng);
  return (high * 2 ** 27 + low) / 2 ** 53;
}

/** One value of a range: uniform, or log-uniform with `log`; integers for integer fields; a stepped range's points uniformly. */
function sampleRange(range: SearchRange, integer: boolean, rng: prand.RandomGenerator): number {
  if (hasStep(range)) return rangePoint(range, prand.unsafeUniformIntDistribution(0, rangePoints(range) - 1, rng));
  if (integer && !range.log) return prand.unsafeUniformIntDistribution(range.low, range.high, rng);
  const u = unit(rng);
  if (integer) return Math.min(range.high, Math.floor(Math.exp(Math.log(range.low) + u * (Math.log(range.high + 1) - Math.log(range.low)))));
  const value = range.log ? Math.exp(Math.log(range.low) + u * (Math.log(range.high) - Math.log(range.low))) : range.low + u * (range.high - range.low);
  return Math.min(range.high, Math.max(range.low, value));
}

/**
 * Trial `index` of a random sweep with ranges: each parameter drawn independently (a list's items
 * uniformly, a range as sampleRange), from a generator of the sweep's seed and the index alone.
 */
export function sampledTrial(
  parameters: Record<string, ParameterSpace>,
  isInteger: (name: string) => boolean,
  seed: number,
  index: number,
  seeding: TrialSeeding = TrialSeeding.mixed,
): Record<string, TrialValue> {
  const rng = trialGenerator(seed, index, seeding);
  return Object.fromEntries(
    Object.entries(parameters).map(([name, space]) => [name, Array.isArray(space) ? space[prand.unsafeUniformIntDistribution(0, space.length - 1, rng)] : sampleRange(space, isInteger(name), rng)]),
  );
}
