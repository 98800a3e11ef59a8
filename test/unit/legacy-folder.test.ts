import { mkdir, mkdtemp, realpath, symlink, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileInFolder, scriptByPatterns, snapshot, writtenFiles } from '../../activities/legacy/folder';

let folder: string;

beforeEach(async () => {
  folder = await realpath(await mkdtemp(path.join(os.tmpdir(), 'gf-legacy-folder-')));
  await mkdir(path.join(folder, 'runs', 'w'), { recursive: true });
  await mkdir(path.join(folder, '.git'));
  await writeFile(path.join(folder, 'train_v1.py'), '');
  await writeFile(path.join(folder, 'train_v2.py'), '');
  await writeFile(path.join(folder, 'runs', 'w', 'old.pt'), 'old');
  await writeFile(path.join(folder, '.git', 'index.json'), '{}');
});

describe('what a wrapped script wrote', () => {
  it('is what is new or has a changed mtime or size, among the globs; caches and links are never walked', async () => {
    const before = await snapshot(folder, ['*.pt', '*.json', 'results.csv']);
    expect([...before.keys()]).toEqual(['runs/w/old.pt']);
    await writeFile(path.join(folder, 'runs', 'w', 'best.pt'), 'new');
    await writeFile(path.join(folder, 'results.csv'), 'epoch\n1\n');
    await writeFile(path.join(folder, 'notes.txt'), 'not collected');
    await symlink('/etc/hostname', path.join(folder, 'leak.json'));
    const later = new Date(Date.now() + 5000);
    await utimes(path.join(folder, 'runs', 'w', 'old.pt'), later, later);
    const written = writtenFiles(before, await snapshot(folder, ['*.pt', '*.json', 'results.csv']));
    expect(written.map((f) => f.path).sort()).toEqual(['results.csv', 'runs/w/best.pt', 'runs/w/old.pt']);
  });
});

describe('containment', () => {
  it('refuses ../../etc/passwd, an absolute path and a link out of the folder, naming where they lead', async () => {
    await expect(fileInFolder(folder, '../../etc/passwd')).rejects.toMatchObject({ type: 'InvalidExperimentEntry', message: expect.stringMatching(/outside the experiment folder/) });
    await expect(fileInFolder(folder, '/etc/passwd')).rejects.toMatchObject({ type: 'InvalidExperimentEntry' });
    await symlink('/etc/passwd', path.join(folder, 'linked.py'));
    await expect(fileInFolder(folder, 'linked.py')).rejects.toMatchObject({ message: expect.stringMatching(/linked\.py resolves to \/etc\/passwd, outside/) });
    await expect(fileInFolder(folder, 'missing.py')).rejects.toMatchObject({ message: expect.stringMatching(/not found/) });
    expect(await fileInFolder(folder, './runs/../train_v1.py')).toBe(path.join(folder, 'train_v1.py'));
  });

  it('patterns pick the first match in name order when an entry point names no default', async () => {
    expect(await scriptByPatterns(folder, ['train*.py'])).toBe(path.join(folder, 'train_v1.py'));
    await expect(scriptByPatterns(folder, ['eval*.py'])).rejects.toMatchObject({ message: expect.stringMatching(/no script .* matches eval\*\.py/) });
  });
});
