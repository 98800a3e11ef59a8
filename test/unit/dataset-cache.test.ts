import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { parse } from 'yaml';
import { DatasetCache, DOWNLOAD_LOG, type ObjectSource } from '../../activities/gpu/dataset-cache';
import { InvalidDatasetError, manifestBytes, sha256Hex, type DatasetManifest } from '../../activities/storage/dataset-manifest';

/** An object store in memory that counts the reads of each key, so a test sees what was downloaded. */
class MemoryStore implements ObjectSource {
  readonly objects = new Map<string, Buffer>();
  readonly reads = new Map<string, number>();

  async open(bucket: string, key: string): Promise<Readable | undefined> {
    const full = `${bucket}/${key}`;
    this.reads.set(full, (this.reads.get(full) ?? 0) + 1);
    // a little latency, so concurrent callers really overlap
    await new Promise((r) => setTimeout(r, 5));
    const body = this.objects.get(full);
    return body && Readable.from([body]);
  }

  /** Stores a dataset version's files and its manifest; returns its URI. */
  push(folder: string, files: Record<string, string | Buffer>): string {
    const entries = Object.entries(files).map(([p, content]) => ({ path: p, body: Buffer.from(content) }));
    for (const e of entries) this.objects.set(`data/${folder}/${e.path}`, e.body);
    const manifest: DatasetManifest = {
      format: 1,
      name: 'acme/ppe',
      version: path.basename(folder),
      pushed_at: '2026-01-01T00:00:00.000Z',
      data_yaml: 'data.yaml',
      files: entries.map((e) => ({ path: e.path, size: e.body.length, sha256: sha256Hex(e.body) })),
    };
    this.objects.set(`data/${folder}/gflow-manifest.json`, manifestBytes(manifest));
    return `s3://data/${folder}/data.yaml`;
  }

  /** Reads of the dataset's files (not its manifest) under `folder`. */
  fileReads(folder: string): number {
    return [...this.reads].filter(([k]) => k.startsWith(`data/${folder}/`) && !k.endsWith('gflow-manifest.json')).reduce((sum, [, n]) => sum + n, 0);
  }
}

const DATA_YAML = 'path: /somewhere/else\ntrain: images/train\nval: images/val\nnames: {0: helmet}\n';

/** A small dataset of `size` bytes of images (plus its data.yaml and a label). */
function dataset(size = 1000): Record<string, string | Buffer> {
  return { 'data.yaml': DATA_YAML, 'images/train/a.png': Buffer.alloc(size, 1), 'labels/train/a.txt': '0 0.5 0.5 0.1 0.1\n' };
}

let root: string;
let store: MemoryStore;

beforeEach(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'gflow-cache-'));
  store = new MemoryStore();
});

const cache = (maxBytes = 1e9) => new DatasetCache({ source: store, root, maxBytes, lockPollMs: 10 });
const downloads = async () => (await readFile(path.join(root, DOWNLOAD_LOG), 'utf8').catch(() => '')).split('\n').filter(Boolean);

describe('materialise', () => {
  it('downloads every file once, checked, and points the data .yaml at the cached folder', async () => {
    const uri = store.push('sets/v1', dataset());
    const got = await cache().materialise(uri);
    const folder = path.dirname(got.dataYaml);
    expect(path.dirname(folder)).toBe(root);
    expect(parse(await readFile(got.dataYaml, 'utf8'))).toEqual({ path: folder, train: 'images/train', val: 'images/val', names: { 0: 'helmet' } });
    expect(await readFile(path.join(folder, 'labels/train/a.txt'), 'utf8')).toBe('0 0.5 0.5 0.1 0.1\n');
    expect(got.sha256).toBe(sha256Hex(store.objects.get('data/sets/v1/gflow-manifest.json')!));
    expect(got).toMatchObject({ uri, files: 3, manifest: { name: 'acme/ppe', version: 'v1' } });
    expect(await downloads()).toEqual([expect.stringContaining(` ${uri} ${got.sha256}`)]);
    await got.release();
  });

  it('concurrent jobs of one process share one download', async () => {
    const uri = store.push('sets/v1', dataset());
    const c = cache();
    const got = await Promise.all([c.materialise(uri), c.materialise(uri), c.materialise(uri)]);
    expect(new Set(got.map((g) => g.dataYaml)).size).toBe(1);
    expect(store.fileReads('sets/v1')).toBe(3);
    expect(await downloads()).toHaveLength(1);
    for (const g of got) await g.release();
  });

  it('two worker processes of one host (two caches on one folder) share one download through the lock file', async () => {
    const uri = store.push('sets/v1', dataset(200_000));
    const [a, b] = await Promise.all([cache().materialise(uri), cache().materialise(uri)]);
    expect(a.dataYaml).toBe(b.dataYaml);
    expect(store.fileReads('sets/v1')).toBe(3);
    expect(await downloads()).toHaveLength(1);
    expect((await readdir(root)).filter((n) => n.endsWith('.lock'))).toEqual([]);
  });

  it('a lock left by a process that is gone is taken over', async () => {
    const uri = store.push('sets/v1', dataset());
    const first = await cache().materialise(uri);
    await first.release();
    const entry = path.basename(path.dirname(first.dataYaml));
    await writeFile(path.join(root, `${entry}.lock`), '999999999');
    const again = await cache().materialise(uri);
    expect(again.dataYaml).toBe(first.dataYaml);
  });
});

describe('the manifest check', () => {
  it('a byte changed in one object fails InvalidDataset naming the file, and leaves nothing cached', async () => {
    const uri = store.push('sets/v1', dataset());
    const png = store.objects.get('data/sets/v1/images/train/a.png')!;
    png[10] ^= 0xff;
    const err = await cache().materialise(uri).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidDatasetError);
    expect((err as Error).message).toMatch(/^s3:\/\/data\/sets\/v1\/images\/train\/a\.png: sha256 [0-9a-f]{64} does not match the manifest's [0-9a-f]{64}: the object changed since it was pushed$/);
    expect((await readdir(root)).filter((n) => !n.startsWith('.'))).toEqual([]);
    expect(await readdir(path.join(root, '.tmp'))).toEqual([]);
  });

  it('an object of another size, a missing object and a missing manifest are refused by name', async () => {
    const uri = store.push('sets/v1', dataset());
    store.objects.set('data/sets/v1/labels/train/a.txt', Buffer.from('0 0.5 0.5 0.1 0.1\n0 0.2 0.2 0.1 0.1\n'));
    await expect(cache().materialise(uri)).rejects.toThrow('s3://data/sets/v1/labels/train/a.txt: 36 bytes, the manifest says 18: the object changed since it was pushed');
    store.objects.delete('data/sets/v1/labels/train/a.txt');
    await expect(cache().materialise(uri)).rejects.toThrow('s3://data/sets/v1/labels/train/a.txt: missing from the object store (the manifest lists it)');
    await expect(cache().materialise('s3://data/sets/v9/data.yaml')).rejects.toThrow('s3://data/sets/v9/data.yaml: no manifest at s3://data/sets/v9/gflow-manifest.json: push the dataset with gflow data push');
  });

  it('a manifest naming a path outside the folder is refused before any download', async () => {
    store.push('sets/v1', dataset());
    const manifest = JSON.parse(store.objects.get('data/sets/v1/gflow-manifest.json')!.toString()) as DatasetManifest;
    manifest.files[1].path = '../../etc/passwd';
    store.objects.set('data/sets/v1/gflow-manifest.json', manifestBytes(manifest));
    await expect(cache().materialise('s3://data/sets/v1/data.yaml')).rejects.toThrow('file path "../../etc/passwd" leaves the dataset folder');
    expect(store.fileReads('sets/v1')).toBe(0);
  });
});

describe('least recently used eviction', () => {
  it('removes whole versions, least recently used first, to stay under the cap', async () => {
    const [v1, v2, v3] = ['v1', 'v2', 'v3'].map((v) => store.push(`sets/${v}`, dataset(1000)));
    const c = cache(2500);
    const a = await c.materialise(v1);
    await a.release();
    await new Promise((r) => setTimeout(r, 20));
    const b = await c.materialise(v2);
    await b.release();
    await new Promise((r) => setTimeout(r, 20));
    // v1 used again: v2 is now the least recently used
    await (await c.materialise(v1)).release();
    const third = await c.materialise(v3);
    expect(existsSync(a.dataYaml)).toBe(true);
    expect(existsSync(b.dataYaml)).toBe(false);
    expect(existsSync(`${path.dirname(b.dataYaml)}.leases`)).toBe(false);
    expect(existsSync(third.dataYaml)).toBe(true);
    expect(await downloads()).toHaveLength(3);
  });

  it('never removes a version a job holds: the cache goes over its cap instead', async () => {
    const [v1, v2] = ['v1', 'v2'].map((v) => store.push(`sets/${v}`, dataset(1000)));
    const c = cache(1500);
    const held = await c.materialise(v1);
    const other = await c.materialise(v2);
    expect(existsSync(held.dataYaml)).toBe(true);
    expect(existsSync(other.dataYaml)).toBe(true);
    await held.release();
    await other.release();
    // released, they are evictable again: v1, the least recently used, goes first
    await (await c.materialise(store.push('sets/v3', dataset(1000)))).release();
    expect(existsSync(held.dataYaml)).toBe(false);
  });
});
