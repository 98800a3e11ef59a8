import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CliError } from '../../cli/cli-error';
import { buildProgram } from '../../cli/gflow';
import { loadSettings } from '../../common/settings';

/** Port 1: a command that got as far as connecting would fail after seconds with "cannot reach Temporal", exit 1. */
const settings = loadSettings({ TEMPORAL_ADDRESS: '127.0.0.1:1' });
const gflow = (...args: string[]) => buildProgram(settings).exitOverride().parseAsync(['node', 'gflow', ...args]);

const SCENARIO = `
name: t
version: v1
type: train
site: { customer: c, region: r, plant: p, zone: z }
task: { type: ppe, classes: [helmet] }
model: { architecture: yolov8n.yaml, input_size: 64 }
dataset: { path: /nonexistent/data.yaml, version: v1 }
training: { epochs: 3, batch_size: 16, learning_rate: 0.01 }
`;

let dir: string;
let file: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'gflow-cli-'));
  file = path.join(dir, 'scenario.yaml');
  await writeFile(file, SCENARIO);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** The CliError a command ends with, so a test can check its exit code and message. */
async function failure(promise: Promise<unknown>): Promise<CliError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof CliError)) throw new Error(`expected a CliError, got ${String(err)}`);
  return err;
}

describe('gflow commands refuse bad input before contacting Temporal', () => {
  it('sweep: a bad -p value exits 2 naming the field', async () => {
    const err = await failure(gflow('sweep', file, '--no-check-files', '-p', 'learning_rate=[0.01,-1]'));
    expect(err.exitCode).toBe(2);
    expect(err.message).toMatch(/sweep\.parameters\.learning_rate\.1: /);
  });

  it('sweep: an unreadable -p exits 2 naming the flag', async () => {
    const err = await failure(gflow('sweep', file, '--no-check-files', '-p', 'learning_rate'));
    expect(err.exitCode).toBe(2);
    expect(err.message).toContain('-p/--param: expected name=[v1,v2,...]');
  });

  it('compare: a kind the experiment type cannot run exits 2', async () => {
    const err = await failure(gflow('compare', file, '--no-check-files', '--datasets', 'a.yaml,b.yaml'));
    expect(err.exitCode).toBe(2);
    expect(err.message).toMatch(/comparison\.datasets: a comparison of datasets needs type: infer/);
  });

  it('run: a sweep file without its sweep block exits 2', async () => {
    const sweepFile = path.join(dir, 'sweep.yaml');
    await writeFile(sweepFile, `${SCENARIO}design: sweep\n`);
    const err = await failure(gflow('run', sweepFile, '--no-check-files'));
    expect(err.exitCode).toBe(2);
    expect(err.message).toMatch(/sweep: required for type: train, design: sweep/);
  });

  it('set-max-runs: a count that is not a whole number exits 2', async () => {
    const err = await failure(gflow('set-max-runs', 'gf/sweep/x', 'many'));
    expect(err.exitCode).toBe(2);
  });
});
