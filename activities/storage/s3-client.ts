import { S3Client } from '@aws-sdk/client-s3';
import type { Settings } from '../../common/settings';

/**
 * How long an S3 request may wait: to connect, and on a socket that moves no byte either way.
 * The SDK sets none: a request the object store stops answering would wait for ever, and a GPU
 * job waiting on it would heartbeat on and never time out. An idle bound, not a total one: a
 * large dataset or model that keeps moving is never cut.
 */
export const S3_TIMEOUTS = { connectMs: 10_000, idleMs: 60_000 };

/** An S3 client for SeaweedFS (path-style addressing); credentials come from the environment via settings. */
export function createS3Client(s3: Settings['s3'], timeouts = S3_TIMEOUTS): S3Client {
  // Node 20 is this project's runtime; the SDK's notice about its 2027 releases would print on every CLI call.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  return new S3Client({
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    requestHandler: { connectionTimeout: timeouts.connectMs, socketTimeout: timeouts.idleMs },
  });
}
