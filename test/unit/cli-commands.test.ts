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

describe('gflow commands check every reference, flags included, before contacting Temporal (issue 16)', () => {
  const INFER = SCENARIO.replace('type: train', 'type: infer')
    .replace('input_size: 64 }', 'input_size: 64, weights: best.pt }')
    .replace('/nonexistent/data.yaml', 'data.yaml')
    .replace(/training:.*\n/, 'benchmark: {}\n');
  let inferFile: string;
  beforeAll(async () => {
    inferFile = path.join(dir, 'infer.yaml');
    await writeFile(inferFile, INFER);
    await writeFile(path.join(dir, 'data.yaml'), 'path: .\n');
    await writeFile(path.join(dir, 'best.pt'), 'weights');
  });

  it('compare: --datasets and --models that do not exist exit 2, relative ones resolved against the current directory', async () => {
    const err = await failure(gflow('compare', inferFile, '--datasets', '/nope/siteA/data.yaml', '--models', 'siteA/best.pt'));
    expect(err.exitCode).toBe(2);
    expect(err.message).toContain(`comparison.datasets.0.path: file not found: /nope/siteA/data.yaml`);
    expect(err.message).toContain(`comparison.models.0: file not found: ${path.resolve('siteA/best.pt')}`);
  });

  it('sweep: --max-runs abc exits 2 naming the flag and the value', async () => {
    const err = await failure(gflow('sweep', file, '--no-check-files', '-p', 'learning_rate=[0.01]', '--max-runs', 'abc'));
    expect(err.exitCode).toBe(2);
    expect(err.message).toContain('--max-runs: expected a whole number, got "abc"');
  });

  it('run: an undefined YAML alias and a wrong type exit 2 with the field and line', async () => {
    const aliasFile = path.join(dir, 'alias.yaml');
    await writeFile(aliasFile, SCENARIO.replace('name: t', 'name: *nope').replace('epochs: 3', 'epochs: "10"'));
    const err = await failure(gflow('run', aliasFile, '--no-check-files'));
    expect(err.exitCode).toBe(2);
    expect(err.message).toContain('name: YAML: alias *nope has no anchor &nope before it (line 2)');
    await writeFile(aliasFile, SCENARIO.replace('epochs: 3', 'epochs: "10"'));
    expect((await failure(gflow('run', aliasFile, '--no-check-files'))).message).toContain('training.epochs: expected an integer, got string "10" (line 9)');
  });

  it('run: a missing .pt architecture exits 2', async () => {
    const archFile = path.join(dir, 'arch.yaml');
    await writeFile(archFile, INFER.replace('architecture: yolov8n.yaml', 'architecture: weights/missing.pt'));
    const err = await failure(gflow('run', archFile));
    expect(err.exitCode).toBe(2);
    expect(err.message).toContain(`model.architecture: file not found: ${path.join(dir, 'weights/missing.pt')}`);
  });
});
