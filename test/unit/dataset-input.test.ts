import { datasetInput, DatasetContext } from '../../activities/tracking/dataset-input';
import { loadSettings, SettingsError } from '../../common/settings';

const dataset = { uri: 's3://guardianflow/datasets/acme/ppe/v3/data.yaml', sha256: 'ab'.repeat(32), name: 'acme/ppe', version: 'v3', files: 17, bytes: 12345 };

describe('MLflow dataset input of an object-store dataset', () => {
  it('names it by name@version, keeps the digest within MLflow’s 36 characters and says how it was used', () => {
    expect(datasetInput(dataset, DatasetContext.evaluation)).toEqual({
      dataset: {
        name: 'acme/ppe@v3',
        digest: 'ab'.repeat(16),
        source_type: 's3',
        source: '{"uri":"s3://guardianflow/datasets/acme/ppe/v3/data.yaml"}',
        profile: JSON.stringify({ files: 17, bytes: 12345, manifest_sha256: 'ab'.repeat(32) }),
      },
      tags: [{ key: 'mlflow.data.context', value: 'evaluation' }],
    });
  });
});

describe('GF_DATA_CACHE and GF_DATA_CACHE_MAX_GB', () => {
  it('default to a folder in the work folder and 100 GB', () => {
    const { gpu } = loadSettings({ GF_WORK_DIR: '/srv/gpu-work' });
    expect(gpu).toMatchObject({ dataCache: '/srv/gpu-work/data-cache', dataCacheMaxBytes: 100e9 });
  });

  it('take a folder and a fraction of a gigabyte; anything but a positive number is refused by name', () => {
    expect(loadSettings({ GF_DATA_CACHE: '/cache', GF_DATA_CACHE_MAX_GB: '0.5' }).gpu).toMatchObject({ dataCache: '/cache', dataCacheMaxBytes: 5e8 });
    for (const raw of ['0', '-1', 'lots', 'Infinity']) {
      expect(() => loadSettings({ GF_DATA_CACHE_MAX_GB: raw })).toThrow(new SettingsError(`GF_DATA_CACHE_MAX_GB: expected a positive number of gigabytes, got "${raw}"`));
    }
  });
});
