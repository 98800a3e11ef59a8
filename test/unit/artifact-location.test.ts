import { artifactKey } from '../../activities/storage/artifact-location';

const store = { bucket: 'guardianflow', artifactsPrefix: 'mlflow-artifacts' };

describe('artifactKey', () => {
  it('maps proxied MLflow artifact URIs into the bucket prefix', () => {
    expect(artifactKey(store, 'mlflow-artifacts:/3/abc123/artifacts', 'weights/best.pt')).toBe('mlflow-artifacts/3/abc123/artifacts/weights/best.pt');
    expect(artifactKey(store, 'mlflow-artifacts://127.0.0.1:5000/3/abc/artifacts/', 'results.csv')).toBe('mlflow-artifacts/3/abc/artifacts/results.csv');
  });

  it('accepts direct s3 URIs of the same bucket only', () => {
    expect(artifactKey(store, 's3://guardianflow/other/1/r/artifacts', 'a.txt')).toBe('other/1/r/artifacts/a.txt');
    expect(() => artifactKey(store, 's3://elsewhere/1/r/artifacts', 'a.txt')).toThrow(/not in bucket guardianflow/);
  });

  it.each(['../x', '/etc/passwd', 'a/../../b', '', 'a//b'])('refuses artifact path %p', (p) => {
    expect(() => artifactKey(store, 'mlflow-artifacts:/1/r/artifacts', p)).toThrow(/must be relative/);
  });
});
