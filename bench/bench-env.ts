import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Settings } from '../common/settings';
import { makeBuildCurrent } from '../stack/dev-stack';

/** The checkout, from the TS sources or from `dist/bench`. */
export const REPO = path.resolve(__dirname, '..', ...(__dirname.split(path.sep).includes('dist') ? ['..'] : []));
export const FAKE_EXECUTOR = path.join(REPO, 'test/fixtures/fake_executor.py');
export const FAKE_QUANT = path.join(REPO, 'test/fixtures/fake_quant.py');

/** The machine as the bench found it: the figures of a shared 2-core box mean little without its load. */
export interface MachineAtStart {
  date: string;
  cpus: number;
  /** 1, 5 and 15-minute load averages from /proc/loadavg when the bench started. */
  loadavg_at_start: number[];
  /** The code measured: the commit, and the files changed since (a working tree shared with other work). */
  git_commit: string;
  git_modified: string[];
}

const git = (...args: string[]) => execFileSync('git', args, { cwd: REPO, encoding: 'utf8' });

export function machineAtStart(): MachineAtStart {
  const loadavg = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number);
  const modified = git('status', '--porcelain', '--untracked-files=no').split('\n').filter(Boolean).map((line) => line.slice(3));
  return { date: new Date().toISOString(), cpus: os.cpus().length, loadavg_at_start: loadavg, git_commit: git('rev-parse', 'HEAD').trim(), git_modified: modified };
}

/** A positive integer from the environment, or the default; anything else stops the bench naming the variable. */
export function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name}: expected a positive integer, got "${raw}"`);
  return value;
}

/** A positive number (seconds, fractions allowed) from the environment, or the default. */
export function envSeconds(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name}: expected seconds (a number ≥ 0), got "${raw}"`);
  return value;
}

/** Writes `bench/results/{name}.json` and prints where. */
export async function saveResults(name: string, body: object): Promise<string> {
  const out = path.join(REPO, 'bench/results');
  await mkdir(out, { recursive: true });
  const file = path.join(out, `${name}.json`);
  await writeFile(file, JSON.stringify(body, null, 2) + '\n');
  console.log(`written to ${file}`);
  return file;
}

/** Rounds to milliseconds (seconds) or to 3 decimals, for tables a reader can scan. */
export const round3 = (x: number) => Math.round(x * 1000) / 1000;

/**
 * A bench's workers are this checkout's build: make it the deployment's current version first, or
 * after a commit since `gflow dev up` the bench's workflows wait for an older build's workers.
 */
export function useThisBuild(settings: Settings): Promise<void> {
  return makeBuildCurrent(settings, { log: (line) => console.log(line) });
}
