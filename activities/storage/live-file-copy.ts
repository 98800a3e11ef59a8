import { createReadStream, createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';

/**
 * Copies a file that another process may be rewriting (a training's `last.pt`, a wrapped script's
 * outputs) and says whether the copy is the file as it was at one moment: true when its size and
 * modification time were the same before and after and the copy has that size.
 *
 * Not `fs.copyFile`: libuv copies the size it saw at the start with `sendfile`, and when the
 * source shrinks meanwhile `sendfile` keeps returning 0 at the new end — it loops for ever on a
 * thread-pool thread. That is what hung GPU jobs in CI (stops 21–23): ultralytics rewrites
 * `last.pt` smaller ("optimizer stripped") just after reporting the last epoch's checkpoint, the
 * checkpoint's copy never ended, the job never completed, the spinning thread starved the machine,
 * and the process could not exit. A stream reads to the end as the file is then, whatever happens.
 */
export async function copyLiveFile(source: string, target: string): Promise<boolean> {
  const before = await stat(source, { bigint: true });
  await pipeline(createReadStream(source), createWriteStream(target));
  const [after, copied] = await Promise.all([stat(source, { bigint: true }), stat(target, { bigint: true })]);
  return after.mtimeNs === before.mtimeNs && after.size === before.size && copied.size === before.size;
}
