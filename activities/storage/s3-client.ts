import { S3Client } from '@aws-sdk/client-s3';
import type { Settings } from '../../common/settings';

/** An S3 client for SeaweedFS (path-style addressing); credentials come from the environment via settings. */
export function createS3Client(s3: Settings['s3']): S3Client {
  // Node 20 is this project's runtime; the SDK's notice about its 2027 releases would print on every CLI call.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  return new S3Client({
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
  });
}
