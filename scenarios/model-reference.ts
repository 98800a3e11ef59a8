/**
 * The grammar of the model references a scenario or flag may name (`model.weights`,
 * `comparison.models`): a local path on the GPU host, `runs:/<run id>/<artifact path>`, or
 * `models:/<name>@<alias>` | `models:/<name>/<version>`. One grammar, shared by the schema (so the
 * CLI and the workflows refuse a bad reference before anything starts) and by the GPU host's
 * model source (a second guard before a reference becomes an S3 key). Pure: no Node built-ins.
 */

export type ModelReference =
  | { kind: 'run'; runId: string; artifactPath: string }
  | { kind: 'registered'; name: string; alias?: string; version?: string }
  | { kind: 'local'; path: string };

const RUNS = /^runs:\/([0-9a-f]{32})\/(.*)$/;
const MODELS = /^models:\/([^@/]+)(?:@([\w-]+)|\/(\d+))$/;
/** Any other `scheme:/…`: nothing downloads from elsewhere (S3, HTTP) at run time. */
const OTHER_SCHEME = /^[a-z][a-z0-9+.-]*:\//i;

export const MODEL_REFERENCE_FORMS = 'a local path, runs:/<run id>/<path>, models:/<name>@<alias> or models:/<name>/<version>';

/**
 * Parses a reference, or says why it is refused. Artifact paths must not climb out of the run's
 * folder: empty, `.` and `..` segments are refused (a local path is resolved, so it may use them).
 */
export function parseModelReference(ref: string): ModelReference | { error: string } {
  if (ref.trim() === '') return { error: `expected ${MODEL_REFERENCE_FORMS}, got an empty string` };
  if (ref.startsWith('runs:/')) {
    const run = RUNS.exec(ref);
    if (!run) return { error: `expected runs:/<32-hex run id>/<artifact path>, got ${JSON.stringify(ref)}` };
    const bad = run[2].split('/').find((segment) => segment === '' || segment === '.' || segment === '..');
    if (bad !== undefined) return { error: `the artifact path of ${JSON.stringify(ref)} has a ${bad === '' ? 'empty' : JSON.stringify(bad)} segment; expected a path inside the run's artifacts` };
    return { kind: 'run', runId: run[1], artifactPath: run[2] };
  }
  if (ref.startsWith('models:/')) {
    const model = MODELS.exec(ref);
    if (!model || model[1] === '.' || model[1] === '..') return { error: `expected models:/<name>@<alias> or models:/<name>/<version>, got ${JSON.stringify(ref)}` };
    return { kind: 'registered', name: model[1], ...(model[2] ? { alias: model[2] } : { version: model[3] }) };
  }
  if (OTHER_SCHEME.test(ref)) return { error: `expected ${MODEL_REFERENCE_FORMS}, got ${JSON.stringify(ref)}` };
  return { kind: 'local', path: ref };
}

/** True for a reference fetched from MLflow (`runs:/`, `models:/`); false for a path on this machine. */
export function isRemoteReference(ref: string): boolean {
  return ref.startsWith('runs:/') || ref.startsWith('models:/');
}

/**
 * A `model.architecture` that names a file: `.pt` weights, or a config given by its path
 * (`configs/my-yolo.yaml`). A bare `yolov8n.yaml` is a config ultralytics builds by name.
 */
export function isLocalArchitecture(architecture: string): boolean {
  return architecture.endsWith('.pt') || architecture.includes('/');
}

/**
 * Exported models that are folders rather than files: ultralytics names them
 * `{stem}_{format}_model` (`best_openvino_model`, `best_saved_model`, `best_ncnn_model`, …), and
 * CoreML writes `{stem}.mlpackage`.
 */
export function isModelFolderName(folder: string): boolean {
  return /(_[a-z0-9]+_model|\.mlpackage)\/?$/.test(folder);
}
