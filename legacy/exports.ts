import type { QuantVariant } from '../scenarios/schema';

/**
 * Which of a wrapped script's collected files are exported models, and as which variant
 * (`…__{backend}_{precision}`, the quantize stage's naming). Site export scripts name their files
 * as they like, so the backend comes from the file kind and the precision from the name when it
 * says one, else from `-p precision=…`, else fp32. Pure: the `legacyRun` workflow calls it on the
 * list the GPU host returns.
 */

/** A model exported by a wrapped script, as an artifact path under the run's `outputs/`. */
export interface LegacyExport {
  variant: QuantVariant;
  /** `outputs/best.onnx`; an OpenVINO model: its `*_openvino_model` folder, else its `.xml`. */
  artifactPath: string;
}

type Precision = QuantVariant['precision'];

/** Words in a file or folder name that say its precision (`best_int8_openvino_model`, `yolov8n-fp16.engine`, `model_half.onnx`). */
const PRECISION_WORDS: Record<string, Precision> = { int8: 'int8', fp16: 'fp16', half: 'fp16', float16: 'fp16', fp32: 'fp32', float32: 'fp32' };

export const PRECISIONS: Precision[] = ['fp32', 'fp16', 'int8'];

/** The precision a name says (its parts split on anything but letters and digits), if any. */
export function precisionInName(name: string): Precision | undefined {
  const words = name.toLowerCase().split(/[^a-z0-9]+/);
  return words.map((w) => PRECISION_WORDS[w]).find((p) => p !== undefined);
}

const basename = (p: string) => p.slice(p.lastIndexOf('/') + 1);
const dirname = (p: string) => (p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : '');

/**
 * The exported models among the collected files (relative paths; only uploaded ones can be
 * registered): `.onnx` → onnx, `.engine` → tensorrt, an `.xml` with its `.bin` beside it →
 * openvino (registered as its folder when ultralytics' `*_openvino_model` layout, else as the
 * `.xml`). One per variant: when several files give the same variant, the first in path order.
 */
export function exportedModels(collected: { path: string; uploaded: boolean }[], fallbackPrecision: Precision = 'fp32'): LegacyExport[] {
  const uploaded = new Set(collected.filter((f) => f.uploaded).map((f) => f.path));
  const found = new Map<string, LegacyExport>();
  for (const file of [...uploaded].sort()) {
    const model = exportOf(file, uploaded);
    if (!model) continue;
    const precision = precisionInName(model.named) ?? fallbackPrecision;
    const variant = { backend: model.backend, precision };
    const label = `${variant.backend}_${variant.precision}`;
    if (!found.has(label)) found.set(label, { variant, artifactPath: `outputs/${model.path}` });
  }
  return [...found.values()];
}

function exportOf(file: string, uploaded: Set<string>): { backend: QuantVariant['backend']; path: string; named: string } | undefined {
  if (file.endsWith('.onnx')) return { backend: 'onnx', path: file, named: basename(file) };
  if (file.endsWith('.engine')) return { backend: 'tensorrt', path: file, named: basename(file) };
  if (!file.endsWith('.xml') || !uploaded.has(`${file.slice(0, -'.xml'.length)}.bin`)) return undefined;
  const folder = dirname(file);
  // ultralytics writes `best_openvino_model/` (`best_int8_openvino_model/` at int8): the folder is the model
  if (basename(folder).endsWith('_openvino_model')) return { backend: 'openvino', path: folder, named: `${basename(folder)}/${basename(file)}` };
  return { backend: 'openvino', path: file, named: basename(file) };
}
