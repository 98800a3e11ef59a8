import { isLocalArchitecture, isModelFolderName, isRemoteReference, parseModelReference } from '../../scenarios/model-reference';

/** The grammar of model references (`model.weights`, `comparison.models`), on its own. */

const RUN_ID = '0123456789abcdef0123456789abcdef';
const FORMS = 'a local path, runs:/<run id>/<path>, models:/<name>@<alias> or models:/<name>/<version>';

describe('parseModelReference', () => {
  it('reads the three forms into their parts', () => {
    expect(parseModelReference(`runs:/${RUN_ID}/weights/best.pt`)).toEqual({ kind: 'run', runId: RUN_ID, artifactPath: 'weights/best.pt' });
    expect(parseModelReference('models:/c.r-p.z.ppe@champion')).toEqual({ kind: 'registered', name: 'c.r-p.z.ppe', alias: 'champion' });
    expect(parseModelReference('models:/c.r-p.z.ppe@pre-prod_2')).toEqual({ kind: 'registered', name: 'c.r-p.z.ppe', alias: 'pre-prod_2' });
    expect(parseModelReference('models:/c.r-p.z.ppe/12')).toEqual({ kind: 'registered', name: 'c.r-p.z.ppe', version: '12' });
    expect(parseModelReference('../shared/best.pt')).toEqual({ kind: 'local', path: '../shared/best.pt' });
    expect(parseModelReference('/m/best_openvino_model')).toEqual({ kind: 'local', path: '/m/best_openvino_model' });
  });

  it('refuses an empty or blank reference, saying what it expects', () => {
    for (const ref of ['', '   ', '\t\n']) expect(parseModelReference(ref)).toEqual({ error: `expected ${FORMS}, got an empty string` });
  });

  it('refuses a runs:/ reference without a 32-hex run id, or with text after a line break', () => {
    const message = (ref: string) => ({ error: `expected runs:/<32-hex run id>/<artifact path>, got ${JSON.stringify(ref)}` });
    for (const ref of ['runs:/not-a-run/best.pt', `runs:/${RUN_ID.toUpperCase()}/best.pt`, `runs:/${RUN_ID}0/best.pt`, `runs:/${RUN_ID}`, `runs:/x/runs:/${RUN_ID}/best.pt`, `runs:/${RUN_ID}/best.pt\nrm`]) {
      expect(parseModelReference(ref)).toEqual(message(ref));
    }
  });

  it('refuses artifact paths that leave the run, naming the segment', () => {
    expect(parseModelReference(`runs:/${RUN_ID}/../x.pt`)).toEqual({ error: `the artifact path of "runs:/${RUN_ID}/../x.pt" has a ".." segment; expected a path inside the run's artifacts` });
    expect(parseModelReference(`runs:/${RUN_ID}/a/./x.pt`)).toEqual({ error: `the artifact path of "runs:/${RUN_ID}/a/./x.pt" has a "." segment; expected a path inside the run's artifacts` });
    expect(parseModelReference(`runs:/${RUN_ID}/a//x.pt`)).toEqual({ error: `the artifact path of "runs:/${RUN_ID}/a//x.pt" has a empty segment; expected a path inside the run's artifacts` });
    expect(parseModelReference(`runs:/${RUN_ID}/a/..x.pt`)).toEqual({ kind: 'run', runId: RUN_ID, artifactPath: 'a/..x.pt' });
  });

  it('refuses a models:/ reference that is neither name@alias nor name/version, or names "." or ".."', () => {
    const message = (ref: string) => ({ error: `expected models:/<name>@<alias> or models:/<name>/<version>, got ${JSON.stringify(ref)}` });
    for (const ref of ['models:/name', 'models:/name@', 'models:/name/v2', 'models:/name@a@b', 'models:/name@alias!', 'models:/name/3/4', 'models:/x/models:/name@alias', 'models:/.@champion', 'models:/../3', 'models:/..@champion']) {
      expect(parseModelReference(ref)).toEqual(message(ref));
    }
  });

  it('refuses any other scheme: nothing is downloaded from elsewhere', () => {
    for (const ref of ['s3://bucket/best.pt', 'http://host/best.pt', 'HTTPS://host/best.pt', 'git+ssh://host/x.pt']) {
      expect(parseModelReference(ref)).toEqual({ error: `expected ${FORMS}, got ${JSON.stringify(ref)}` });
    }
    expect(parseModelReference('weights/http://x.pt')).toEqual({ kind: 'local', path: 'weights/http://x.pt' });
    expect(parseModelReference('1http://x.pt')).toEqual({ kind: 'local', path: '1http://x.pt' });
  });
});

describe('reference kinds', () => {
  it('runs:/ and models:/ are fetched from MLflow; paths are not', () => {
    expect([`runs:/${RUN_ID}/best.pt`, 'models:/m@champion', '/m/best.pt', 'weights/runs:/', 'x/models:/'].map(isRemoteReference)).toEqual([true, true, false, false, false]);
  });

  it('an architecture names a file when it is .pt weights or a config given by its path', () => {
    expect(['yolov8n.pt', 'configs/my-yolo.yaml', '/w/best.pt', 'yolov8n.yaml', 'pt.yaml'].map(isLocalArchitecture)).toEqual([true, true, true, false, false]);
  });

  it('knows exported model folders by name', () => {
    expect(['best_openvino_model', 'best_saved_model/', '/m/best_ncnn_model', 'best.mlpackage', 'best.mlpackage/'].map(isModelFolderName)).toEqual([true, true, true, true, true]);
    expect(['best_openvino_model/weights', 'best.mlpackage.bak', 'best_model', 'best__model', 'best_OpenVINO_model', 'best.pt', 'weights', 'xmlpackage'].map(isModelFolderName)).toEqual([false, false, false, false, false, false, false, false]);
  });
});
