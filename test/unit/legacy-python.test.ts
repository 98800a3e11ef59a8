import { chmod, mkdir, mkdtemp, realpath, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { choosePython, PythonChoiceError, pythonProblem } from '../../activities/legacy/python';
import { loadRegistryFile } from '../../legacy/loader';

const HOST = '/opt/gf/.venv/bin/python';
let folder: string;

async function executable(file: string, mode = 0o755): Promise<string> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, '#!/bin/sh\n');
  await chmod(file, mode);
  return file;
}

beforeEach(async () => {
  folder = await realpath(await mkdtemp(path.join(os.tmpdir(), 'gf-legacy-python-')));
});

describe('the Python a wrapped script runs with', () => {
  it('is the host’s GF_PYTHON when the entry names none and the folder has no venv', async () => {
    expect(await choosePython(folder, undefined, HOST)).toEqual({ path: HOST, source: 'host' });
  });

  it('is the folder’s .venv/bin/python, then venv/bin/python, used through its link (a venv needs its own path)', async () => {
    const real = await executable(path.join(folder, 'elsewhere', 'python3'));
    await executable(path.join(folder, 'venv', 'bin', 'python'));
    expect(await choosePython(folder, undefined, HOST)).toEqual({ path: path.join(folder, 'venv/bin/python'), source: 'venv' });
    await mkdir(path.join(folder, '.venv', 'bin'), { recursive: true });
    await symlink(real, path.join(folder, '.venv', 'bin', 'python'));
    expect(await choosePython(folder, undefined, HOST)).toEqual({ path: path.join(folder, '.venv/bin/python'), source: 'venv' });
  });

  it('is the entry’s python:, relative to the folder or absolute, over the folder’s venv', async () => {
    await executable(path.join(folder, '.venv', 'bin', 'python'));
    const own = await executable(path.join(folder, 'tools', 'py.sh'));
    expect(await choosePython(folder, 'tools/py.sh', HOST)).toEqual({ path: own, source: 'entry' });
    expect(await choosePython('/elsewhere', own, HOST)).toEqual({ path: own, source: 'entry' });
  });

  it('refuses a python: that is missing, a folder or not executable, and a broken folder venv, naming it', async () => {
    await executable(path.join(folder, 'plain.sh'), 0o644);
    await expect(choosePython(folder, 'nope/python', HOST)).rejects.toThrow(new PythonChoiceError(`python: ${folder}/nope/python does not exist`));
    await expect(choosePython(folder, '.', HOST)).rejects.toThrow(`python: ${folder} is not a file`);
    await expect(choosePython(folder, 'plain.sh', HOST)).rejects.toThrow(`python: ${folder}/plain.sh is not executable`);
    await mkdir(path.join(folder, '.venv', 'bin'), { recursive: true });
    await symlink(path.join(folder, 'gone'), path.join(folder, '.venv', 'bin', 'python'));
    await expect(choosePython(folder, undefined, HOST)).rejects.toThrow(`the folder's .venv/bin/python: ${folder}/.venv/bin/python does not exist`);
    expect(await pythonProblem(process.execPath)).toBeUndefined();
  });

  it('is made absolute from the entry’s folder when the registry is loaded', async () => {
    const file = path.join(folder, 'experiments.yaml');
    await mkdir(path.join(folder, 'site'));
    await writeFile(file, 'experiments:\n  acme-ppe:\n    path: site\n    python: .venv-gpu/bin/python\n    site: { customer: acme, region: ci, plant: p1, zone: z }\n    task: { type: ppe }\n    entry_points: { train: { default: t.py } }\n');
    expect((await loadRegistryFile(file)).experiments['acme-ppe'].python).toBe(path.join(folder, 'site', '.venv-gpu', 'bin', 'python'));
  });
});
