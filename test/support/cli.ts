import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { CliError } from '../../cli/cli-error';
import { buildProgram } from '../../cli/gflow';
import type { Settings } from '../../common/settings';
import { REPO } from './harness';

/** What a command printed and how it exited. */
export interface CommandRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** The `gflow` a user runs: bin/gflow over the built dist/ (scripts/setup.sh builds it). */
export const GFLOW = path.join(REPO, 'bin/gflow');

/** The environment of a command pointed at the test stack: its GF_* ports (set by global setup) and server addresses. */
function stackEnv(settings: Settings, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...process.env, TEMPORAL_ADDRESS: settings.temporal.address, MLFLOW_TRACKING_URI: settings.mlflow.url, ...extra };
}

/**
 * Runs a program as its own process with an argument list (no shell), resolving with its exit
 * code whatever it is; only a process that cannot start or outlives `timeoutMs` rejects.
 */
export function runCommand(file: string, args: string[], settings: Settings, timeoutMs = 60_000, env?: Record<string, string>): Promise<CommandRun> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { env: stackEnv(settings, env), timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') return reject(new Error(`${path.basename(file)} ${args.join(' ')}: ${err.message}\n${stdout}\n${stderr}`));
      resolve({ code: err ? Number(err.code) : 0, stdout, stderr });
    });
  });
}

/** `bin/gflow <args>` against the test stack (`env`: more variables); fails at once when dist/ was never built. */
export function gflow(settings: Settings, args: string[], timeoutMs?: number, env?: Record<string, string>): Promise<CommandRun> {
  if (!existsSync(path.join(REPO, 'dist/cli/gflow.js'))) throw new Error('dist/cli/gflow.js is missing: run bash scripts/setup.sh (it builds dist/)');
  return runCommand(GFLOW, args, settings, timeoutMs, env);
}

/** The plain Temporal CLI of the venv (`temporal <args> --address <test stack>`). */
export function temporalCli(settings: Settings, args: string[]): Promise<CommandRun> {
  return runCommand(path.join(path.dirname(settings.python), 'temporal'), [...args, '--address', settings.temporal.address], settings);
}

/**
 * `gflow <args>` parsed and run in this process with commander's exits turned into errors: resolves
 * with 'ok', or with what it threw (a CliError carries its exit code), for tests of refusals
 * that come before any server is asked.
 */
export function gflowInProcess(settings: Settings, ...args: string[]): Promise<unknown> {
  return buildProgram(settings)
    .exitOverride()
    .parseAsync(['node', 'gflow', ...args])
    .then(
      () => 'ok',
      (err: unknown) => err,
    );
}

/** `gflow <args>` run in this process (errors propagate); resolves with the lines it printed with console.log, joined. */
export async function gflowPrinted(settings: Settings, ...args: string[]): Promise<string> {
  const printed: string[] = [];
  const log = jest.spyOn(console, 'log').mockImplementation((...parts: unknown[]) => void printed.push(parts.join(' ')));
  try {
    await buildProgram(settings).parseAsync(['node', 'gflow', ...args]);
  } finally {
    log.mockRestore();
  }
  return printed.join('\n');
}

/** `gflow <args>` run in this process, expected to be refused: the CliError it threw (its message and exit code). */
export async function gflowRefusal(settings: Settings, ...args: string[]): Promise<CliError> {
  const err = await gflowPrinted(settings, ...args).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CliError);
  return err as CliError;
}
