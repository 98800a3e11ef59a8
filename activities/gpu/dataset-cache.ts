import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { appendFile, mkdir, open, readdir, readFile, rename, rm, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { parseDocument } from 'yaml';
import { datasetUri, manifestKey, parseDatasetUri, type DatasetLocation } from '../../scenarios/dataset-uri';
import { InvalidDatasetError, isMissingObject, parseManifest, type DatasetManifest, type ManifestFile } from '../storage/dataset-manifest';

/** Reads objects; `undefined` for an object that is not there (a missing file is the dataset's fault, an outage is not). */
export interface ObjectSource {
  open(bucket: string, key: string): Promise<Readable | undefined>;
}

export function s3ObjectSource(s3: S3Client): ObjectSource {
  return {
    open: (bucket, key) =>
      s3.send(new GetObjectCommand({ Bucket: bucket, Key: key })).then(
        (object) => object.Body as Readable,
        (err: unknown) => {
          if (isMissingObject(err)) return undefined;
          throw err;
        },
      ),
  };
}

export interface DatasetCacheOptions {
  source: ObjectSource;
  /** `GF_DATA_CACHE`: one folder per dataset version, shared by every worker process of the host. */
  root: string;
  /** `GF_DATA_CACHE_MAX_GB` in bytes: least recently used versions not in use are removed to stay under it. */
  maxBytes: number;
  log?: (message: string) => void;
  /** How often a waiter looks at another process's lock (ms). */
  lockPollMs?: number;
}

/** A dataset version on this host, held (not evicted) until `release`. */
export interface CachedDataset {
  uri: string;
  /** sha256 of the manifest: the version's digest. */
  sha256: string;
  manifest: DatasetManifest;
  /** The local data .yaml, its `path:` set to the cached folder. */
  dataYaml: string;
  files: number;
  bytes: number;
  release(): Promise<void>;
}

/** Written into a version's folder last, before the folder is renamed into place: its presence means complete and checked. */
const MARKER = '.gflow-cache.json';
/** One line per download, so an operator (and the tests) see how often a host fetched what. */
export const DOWNLOAD_LOG = 'downloads.log';
const PARALLEL = 8;

interface Marker {
  uri: string;
  sha256: string;
  bytes: number;
}

/**
 * A host's cache of object-store datasets. A version is fetched once per host: concurrent jobs in
 * this process wait on one in-process lock, other worker processes of the host on a lock file
 * (`{entry}.lock`, its holder's pid inside, taken over when that process is gone). It is
 * downloaded into a temporary folder, each file checked against the manifest (size and sha256),
 * and renamed into place, so a half-fetched version is never used. Jobs hold a version with a
 * lease file (`{entry}.leases/{pid}-{n}`), so eviction, least recently used first, spares versions
 * in use by any process of the host.
 */
export class DatasetCache {
  private readonly queues = new Map<string, Promise<unknown>>();
  private leaseCount = 0;

  constructor(private readonly opts: DatasetCacheOptions) {}

  /** The dataset of `uri` on this host, downloaded and checked if it is not there yet. */
  async materialise(uri: string, signal?: AbortSignal): Promise<CachedDataset> {
    const location = parseDatasetUri(uri);
    if ('error' in location) throw new InvalidDatasetError(`dataset.path: ${location.error}`);
    const stored = await this.manifest(location);
    const entry = entryName(location, stored.sha256);
    return this.serially(entry, () =>
      this.withFileLock(entry, signal, async () => {
        const dir = path.join(this.opts.root, entry);
        const marker = await readMarker(dir);
        if (marker?.sha256 !== stored.sha256) await this.download(location, stored, entry, signal);
        await utimes(path.join(dir, MARKER), new Date(), new Date());
        const release = await this.lease(entry);
        const bytes = stored.manifest.files.reduce((sum, f) => sum + f.size, 0);
        return { uri, sha256: stored.sha256, manifest: stored.manifest, dataYaml: path.join(dir, location.file), files: stored.manifest.files.length, bytes, release };
      }),
    );
  }

  private async manifest(location: DatasetLocation) {
    const where = `s3://${location.bucket}/${manifestKey(location)}`;
    const body = await this.opts.source.open(location.bucket, manifestKey(location));
    if (!body) throw new InvalidDatasetError(`${datasetUri(location)}: no manifest at ${where}: push the dataset with gflow data push`);
    const stored = parseManifest(await readAll(body), where);
    if (stored.manifest.data_yaml !== location.file) throw new InvalidDatasetError(`${datasetUri(location)}: the manifest's data .yaml is ${stored.manifest.data_yaml}, not ${location.file}`);
    const clash = stored.manifest.files.find((f) => f.path === MARKER);
    if (clash) throw new InvalidDatasetError(`${where}: a file named ${MARKER} clashes with the cache's own`);
    return stored;
  }

  /** Runs `work` after every earlier call for the same entry in this process has ended. */
  private serially<T>(entry: string, work: () => Promise<T>): Promise<T> {
    const previous = this.queues.get(entry) ?? Promise.resolve();
    const next = previous.then(work, work);
    const tail = next.catch(() => undefined);
    this.queues.set(entry, tail);
    void tail.then(() => {
      if (this.queues.get(entry) === tail) this.queues.delete(entry);
    });
    return next;
  }

  private async withFileLock<T>(entry: string, signal: AbortSignal | undefined, work: () => Promise<T>): Promise<T> {
    await mkdir(this.opts.root, { recursive: true });
    const lockFile = path.join(this.opts.root, `${entry}.lock`);
    while (!(await tryLock(lockFile))) {
      signal?.throwIfAborted();
      await new Promise((r) => setTimeout(r, this.opts.lockPollMs ?? 200));
    }
    try {
      return await work();
    } finally {
      await rm(lockFile, { force: true });
    }
  }

  private async download(location: DatasetLocation, stored: { manifest: DatasetManifest; sha256: string }, entry: string, signal?: AbortSignal): Promise<void> {
    const { manifest, sha256 } = stored;
    const uri = datasetUri(location);
    const bytes = manifest.files.reduce((sum, f) => sum + f.size, 0);
    await this.evictFor(bytes, entry);
    const tmpRoot = path.join(this.opts.root, '.tmp');
    // leftovers of a process that died mid-download of this entry; the lock says none is running
    for (const name of await readdir(tmpRoot).catch(() => [] as string[])) if (name.startsWith(`${entry}.`)) await rm(path.join(tmpRoot, name), { recursive: true, force: true });
    const tmp = path.join(tmpRoot, `${entry}.${process.pid}.${randomBytes(4).toString('hex')}`);
    const final = path.join(this.opts.root, entry);
    this.opts.log?.(`dataset ${uri}: downloading ${manifest.files.length} files (${(bytes / 1e6).toFixed(1)} MB) to ${final}`);
    try {
      const queue = [...manifest.files];
      let failure: { error: unknown } | undefined;
      const worker = async () => {
        for (let file = queue.shift(); file && !failure; file = queue.shift()) {
          try {
            signal?.throwIfAborted();
            await fetchChecked(this.opts.source, location, file, tmp);
          } catch (error) {
            failure ??= { error };
          }
        }
      };
      // every fetch ends before the folder is removed: one still writing would break the removal and hide the cause
      await Promise.all(Array.from({ length: PARALLEL }, worker));
      if (failure) throw failure.error;
      await pointDataYamlAt(path.join(tmp, location.file), final, `${location.folder}/${location.file}`, uri);
      await writeFile(path.join(tmp, MARKER), JSON.stringify({ uri, sha256, bytes } satisfies Marker));
      await rm(final, { recursive: true, force: true });
      await rename(tmp, final);
    } catch (err) {
      await rm(tmp, { recursive: true, force: true }).catch((cleanup: unknown) => this.opts.log?.(`dataset cache: could not remove ${tmp}: ${String(cleanup)}`));
      throw err;
    }
    await appendFile(path.join(this.opts.root, DOWNLOAD_LOG), `${new Date().toISOString()} ${process.pid} ${uri} ${sha256}\n`);
  }

  /** Removes whole versions, least recently used first, that no process holds, until `incoming` more bytes fit under the cap. */
  private async evictFor(incoming: number, keep: string): Promise<void> {
    const entries: { name: string; bytes: number; usedAt: number }[] = [];
    for (const name of await readdir(this.opts.root)) {
      const marker = await readMarker(path.join(this.opts.root, name));
      if (!marker || name === keep) continue;
      const used = await stat(path.join(this.opts.root, name, MARKER));
      entries.push({ name, bytes: marker.bytes, usedAt: used.mtimeMs });
    }
    let total = entries.reduce((sum, e) => sum + e.bytes, 0);
    for (const e of entries.sort((a, b) => a.usedAt - b.usedAt)) {
      if (total + incoming <= this.opts.maxBytes) return;
      const lockFile = path.join(this.opts.root, `${e.name}.lock`);
      if (!(await tryLock(lockFile))) continue;
      try {
        if (await this.inUse(e.name)) continue;
        const trash = path.join(this.opts.root, '.tmp', `${e.name}.${process.pid}.evicted`);
        await mkdir(path.dirname(trash), { recursive: true });
        await rename(path.join(this.opts.root, e.name), trash);
        await rm(trash, { recursive: true, force: true });
        await rm(path.join(this.opts.root, `${e.name}.leases`), { recursive: true, force: true });
        total -= e.bytes;
        this.opts.log?.(`dataset cache: evicted ${e.name} (${(e.bytes / 1e6).toFixed(1)} MB, least recently used)`);
      } finally {
        await rm(lockFile, { force: true });
      }
    }
    if (total + incoming > this.opts.maxBytes) this.opts.log?.(`dataset cache: ${((total + incoming) / 1e9).toFixed(2)} GB after this download, over its cap of ${(this.opts.maxBytes / 1e9).toFixed(2)} GB: the rest is in use`);
  }

  /** True while a live process holds a lease on the entry; leases of dead processes are removed. */
  private async inUse(entry: string): Promise<boolean> {
    const dir = path.join(this.opts.root, `${entry}.leases`);
    let live = false;
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      if (isAlive(Number(name.split('-')[0]))) live = true;
      else await rm(path.join(dir, name), { force: true });
    }
    return live;
  }

  private async lease(entry: string): Promise<() => Promise<void>> {
    const dir = path.join(this.opts.root, `${entry}.leases`);
    await mkdir(dir, { recursive: true });
    const file = path.join(dir, `${process.pid}-${++this.leaseCount}`);
    await writeFile(file, '');
    return () => unlink(file).catch(() => undefined);
  }
}

/** `{bucket}_{folder}-{digest}`: readable, flat (no version folder inside another), and a re-pushed manifest is another entry. */
function entryName(location: DatasetLocation, sha256: string): string {
  const readable = `${location.bucket}_${location.folder}`.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 100);
  const key = createHash('sha256').update(`${location.bucket}/${location.folder}/${location.file}`).digest('hex');
  return `${readable}-${key.slice(0, 8)}${sha256.slice(0, 12)}`;
}

/** Downloads one file into `dir`, checking its size and sha256 against the manifest as it streams. */
async function fetchChecked(source: ObjectSource, location: DatasetLocation, file: ManifestFile, dir: string): Promise<void> {
  const where = `s3://${location.bucket}/${location.folder}/${file.path}`;
  const body = await source.open(location.bucket, `${location.folder}/${file.path}`);
  if (!body) throw new InvalidDatasetError(`${where}: missing from the object store (the manifest lists it)`);
  const target = path.join(dir, ...file.path.split('/'));
  await mkdir(path.dirname(target), { recursive: true });
  const hash = createHash('sha256');
  let size = 0;
  await pipeline(
    body,
    async function* (chunks: AsyncIterable<Buffer>) {
      for await (const chunk of chunks) {
        hash.update(chunk);
        size += chunk.length;
        yield chunk;
      }
    },
    createWriteStream(target),
  );
  if (size !== file.size) throw new InvalidDatasetError(`${where}: ${size} bytes, the manifest says ${file.size}: the object changed since it was pushed`);
  const digest = hash.digest('hex');
  if (digest !== file.sha256) throw new InvalidDatasetError(`${where}: sha256 ${digest} does not match the manifest's ${file.sha256}: the object changed since it was pushed`);
}

/** Sets `path:` of the cached data .yaml to the folder it will be renamed to, so ultralytics finds the images there. */
async function pointDataYamlAt(file: string, folder: string, key: string, uri: string): Promise<void> {
  const doc = parseDocument(await readFile(file, 'utf8'));
  if (doc.errors.length > 0 || typeof doc.toJS() !== 'object' || doc.toJS() === null) {
    throw new InvalidDatasetError(`${uri}: ${key} is not a YAML mapping${doc.errors[0] ? ` (${doc.errors[0].message.split('\n')[0]})` : ''}`);
  }
  doc.set('path', folder);
  await writeFile(file, doc.toString());
}

async function readMarker(dir: string): Promise<Marker | undefined> {
  const text = await readFile(path.join(dir, MARKER), 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as Marker;
  } catch {
    return undefined;
  }
}

/** Creates the lock file with this pid in it; a lock of a process that is gone is taken over. */
async function tryLock(lockFile: string): Promise<boolean> {
  try {
    const handle = await open(lockFile, 'wx');
    await handle.writeFile(String(process.pid));
    await handle.close();
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const holder = Number(await readFile(lockFile, 'utf8').catch(() => ''));
  // an empty file is a lock being written this moment: not stale
  if (!holder || isAlive(holder)) return false;
  // taken over by renaming it away: of two processes that saw it stale only one rename succeeds, and a
  // fresh lock renamed by mistake (its holder took over first) goes back
  const stale = `${lockFile}.stale.${process.pid}.${randomBytes(4).toString('hex')}`;
  if (!(await rename(lockFile, stale).then(() => true, () => false))) return false;
  if (Number(await readFile(stale, 'utf8').catch(() => '')) !== holder) {
    await rename(stale, lockFile);
    return false;
  }
  await rm(stale, { force: true });
  return tryLock(lockFile);
}

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readAll(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
