import { spawn } from 'node:child_process';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import { FailureType } from '../../common/failure-types';
import type { SpaceEntry, TrialParams } from '../../scenarios/sweep-trials';

/** A finished or running trial as the sampler sees it: `value` is the sweep metric (null when there is none). */
export interface SearchTrial {
  params: TrialParams;
  value: number | null;
  state: 'complete' | 'pruned' | 'fail' | 'running';
}

/** What `executors/suggest.py` reads: the space, the sweep's seed and goal, every trial so far, and how many to ask. */
export interface SuggestInput {
  space: Record<string, SpaceEntry>;
  seed: number;
  /** Index of the first trial asked for: mixed into the sampler's seed, so asks differ and a retry repeats its own. */
  firstIndex: number;
  goal: 'maximize' | 'minimize';
  count: number;
  trials: SearchTrial[];
}

export interface SearchDeps {
  python: string;
}

const SCRIPT = path.resolve(__dirname, '..', '..', ...(__dirname.split(path.sep).includes('dist') ? ['..'] : []), 'executors', 'suggest.py');
const TIMEOUT_MS = 120_000;
/** The executor's exit code for a request it refuses (a field named in stderr). */
const BAD_REQUEST = 2;

const SuggestionsSchema = z.strictObject({ suggestions: z.array(z.record(z.string(), z.union([z.number(), z.string(), z.boolean()]))) });

/**
 * The model-based search of `tpe` sweeps (docs/architecture.md, sweep): Optuna's TPE in a
 * stateless Python process, so the suggestion is an activity result recorded in the sweep's
 * history and a retry with the same input returns the same trials.
 */
export function createSearchActivities(deps: SearchDeps) {
  return {
    async suggestTrials(input: SuggestInput): Promise<TrialParams[]> {
      const request = { space: input.space, seed: input.seed, first_index: input.firstIndex, goal: input.goal, count: input.count, trials: input.trials };
      const { code, stdout, stderr } = await runPython(deps.python, [SCRIPT], JSON.stringify(request));
      if (code === BAD_REQUEST) {
        throw ApplicationFailure.create({ message: `suggest.py refused the request: ${stderr.trim()}`, type: FailureType.ExecutorProtocolViolation, nonRetryable: true });
      }
      if (code !== 0) throw ApplicationFailure.create({ message: `suggest.py exited with ${String(code)}: ${stderr.trim().slice(-2000)}`, type: FailureType.ExecutorCrashed });
      return parseSuggestions(stdout, input);
    },
  };
}

/** The executor's answer, checked: `count` suggestions, each with exactly the space's parameters. */
export function parseSuggestions(stdout: string, input: Pick<SuggestInput, 'space' | 'count'>): TrialParams[] {
  const violation = (why: string) => ApplicationFailure.create({ message: `suggest.py answered ${why}`, type: FailureType.ExecutorProtocolViolation, nonRetryable: true });
  let json: unknown;
  try {
    json = JSON.parse(stdout);
  } catch {
    throw violation(`with no JSON: ${stdout.slice(0, 200)}`);
  }
  const parsed = SuggestionsSchema.safeParse(json);
  if (!parsed.success) throw violation(`in the wrong shape: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  const { suggestions } = parsed.data;
  if (suggestions.length !== input.count) throw violation(`${suggestions.length} suggestions, ${input.count} asked`);
  const names = Object.keys(input.space).sort().join(',');
  for (const [i, s] of suggestions.entries()) if (Object.keys(s).sort().join(',') !== names) throw violation(`suggestion ${i} with parameters ${Object.keys(s).join(',')}, expected ${names}`);
  return suggestions;
}

/** Runs Python with an argument list (never a shell), the request on stdin. */
function runPython(python: string, args: string[], stdin: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, args, { stdio: ['pipe', 'pipe', 'pipe'], timeout: TIMEOUT_MS });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }));
    child.stdin.on('error', () => undefined); // an early exit closes stdin; its code tells why
    child.stdin.end(stdin);
  });
}
