import { ActivityFailure, ApplicationFailure, TimeoutFailure } from '@temporalio/workflow';
import { TimeoutType, type Duration } from '@temporalio/common';
import type { ArtifactFile } from '../../activities/storage/activities';
import { FailureType } from '../../common/failure-types';
import { HOST_UPLOAD_WAIT, hostStorage } from '../proxies';

/**
 * Uploads files a GPU job left on its host, from that host (its own queue). A host that died
 * after its job ended never takes the upload: once `wait` passes, this fails `HostLost`, naming
 * the host and the files that were only there, so the workflow never hangs on a dead host.
 */
export async function uploadFromHost(hostQueue: string, artifactUri: string, files: ArtifactFile[], wait: Duration = HOST_UPLOAD_WAIT): Promise<void> {
  try {
    const names = files.map((f) => f.artifactPath);
    const listed = `${names.slice(0, 3).join(', ')}${names.length > 3 ? ` and ${names.length - 3} more` : ''}`;
    await hostStorage(hostQueue, wait).uploadArtifacts.executeWithOptions({ summary: `upload ${files.length} files (${listed || 'none'}) from ${hostQueue}` }, [{ artifactUri, files }]);
  } catch (err) {
    if (!hostGone(err)) throw err;
    const lost = files.map((f) => f.artifactPath).join(', ') || 'nothing';
    throw ApplicationFailure.create({
      message: `no worker of ${hostQueue} took the upload within ${String(wait)}: the host is gone, and with it what only it had (${lost})`,
      type: FailureType.HostLost,
      nonRetryable: true,
      cause: err as Error,
    });
  }
}

/** A host-pinned activity that no worker started within its schedule-to-start timeout (Temporal does not retry those). */
function hostGone(err: unknown): boolean {
  return err instanceof ActivityFailure && err.cause instanceof TimeoutFailure && err.cause.timeoutType === TimeoutType.SCHEDULE_TO_START;
}

/** True for the failure uploadFromHost raises for a lost host. */
export function isHostLost(err: unknown): err is ApplicationFailure {
  return err instanceof ApplicationFailure && err.type === FailureType.HostLost;
}
