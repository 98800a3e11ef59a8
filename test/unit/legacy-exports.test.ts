import { buildArgv } from '../../legacy/args';
import { exportedModels, precisionInName } from '../../legacy/exports';
import { parseRegistryText } from '../../legacy/loader';
import { legacyVariantModelName, WrapRequestSchema, wrappedRunName } from '../../legacy/wrap-request';

const files = (...paths: string[]) => paths.map((p) => ({ path: p, uploaded: true }));

describe('exported models among a wrapped script’s files', () => {
  it('takes the backend from the file kind: .onnx, .engine, an .xml with its .bin (ultralytics’ folder or a bare pair)', () => {
    expect(exportedModels(files('weights/best.onnx', 'weights/best.engine', 'weights/best_openvino_model/best.xml', 'weights/best_openvino_model/best.bin', 'results.csv'))).toEqual([
      { variant: { backend: 'tensorrt', precision: 'fp32' }, artifactPath: 'outputs/weights/best.engine' },
      { variant: { backend: 'onnx', precision: 'fp32' }, artifactPath: 'outputs/weights/best.onnx' },
      { variant: { backend: 'openvino', precision: 'fp32' }, artifactPath: 'outputs/weights/best_openvino_model' },
    ]);
    expect(exportedModels(files('model-int8.xml', 'model-int8.bin'))).toEqual([{ variant: { backend: 'openvino', precision: 'int8' }, artifactPath: 'outputs/model-int8.xml' }]);
  });

  it('ignores an .xml without its .bin, files not uploaded, and a second file of the same variant', () => {
    expect(exportedModels(files('annotations.xml', 'report.json'))).toEqual([]);
    expect(exportedModels([{ path: 'big.onnx', uploaded: false }])).toEqual([]);
    expect(exportedModels(files('b/model.onnx', 'a/model.onnx'))).toEqual([{ variant: { backend: 'onnx', precision: 'fp32' }, artifactPath: 'outputs/a/model.onnx' }]);
  });

  it('takes the precision from the name when it says one, else the -p precision given, else fp32', () => {
    expect(precisionInName('best_int8_openvino_model/best.xml')).toBe('int8');
    expect(precisionInName('yolov8n-fp16.engine')).toBe('fp16');
    expect(precisionInName('model_half.onnx')).toBe('fp16');
    expect(precisionInName('print8.onnx')).toBeUndefined();
    expect(exportedModels(files('m.onnx', 'm_fp16.onnx'), 'int8').map((e) => e.variant)).toEqual([
      { backend: 'onnx', precision: 'int8' },
      { backend: 'onnx', precision: 'fp16' },
    ]);
  });

  it('names a variant as the quantize stage does', () => {
    const { experiments } = parseRegistryText('experiments:\n  acme-ppe:\n    path: /x\n    site: { customer: acme, region: ci, plant: p1, zone: z }\n    task: { type: ppe }\n    entry_points: { quant: { default: q.py } }\n');
    expect(legacyVariantModelName(experiments['acme-ppe'], { backend: 'openvino', precision: 'int8' })).toBe('acme.ci-p1.z.ppe__openvino_int8');
  });

  it('takes an entry point’s precision: and refuses one that is no precision, naming the field', () => {
    const yaml = (precision: string) => `experiments:\n  acme-ppe:\n    path: /x\n    site: { customer: acme, region: ci, plant: p1, zone: z }\n    task: { type: ppe }\n    entry_points: { quant: { default: q.py, precision: ${precision} } }\n`;
    expect(parseRegistryText(yaml('int8')).experiments['acme-ppe'].entry_points.quant?.precision).toBe('int8');
    expect(() => parseRegistryText(yaml('int4'))).toThrow(/experiments\.acme-ppe\.entry_points\.quant\.precision: .*(fp32|int8)/);
  });
});

describe('the reserved -p names and the wrap request’s new fields', () => {
  it('precision and source_run fill a placeholder, are never refused as unused, and are not passed without a template', () => {
    expect(buildArgv('--half', { precision: 'fp16', source_run: 'a'.repeat(32) })).toEqual(['--half']);
    expect(buildArgv('--p {precision}', { precision: 'int8' })).toEqual(['--p', 'int8']);
    expect(buildArgv(undefined, { precision: 'int8', img_size: '64' })).toEqual(['--img-size', '64']);
  });

  const base = { name: 'acme-ppe', type: 'quant', version: 'v3', entry: { path: '/x', site: { customer: 'acme', region: 'ci', plant: 'p1', zone: 'z' }, task: { type: 'ppe' }, entry_points: { quant: { default: 'q.py' } } } };
  const issues = (extra: object) => {
    const parsed = WrapRequestSchema.safeParse({ ...base, ...extra });
    return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  };

  it('refuses a bad precision, a source_run that is no run id, and a blank, overlong or multi-line run name', () => {
    expect(issues({ params: { precision: 'int4' } })).toEqual(['params.precision: expected fp32|fp16|int8, got "int4"']);
    expect(issues({ params: { source_run: 'last' } })).toEqual(['params.source_run: expected an MLflow run id (32 hex digits), got "last"']);
    expect(issues({ runName: '  ' })).toEqual(['runName: expected a non-empty run name']);
    expect(issues({ runName: 'x'.repeat(251) })).toEqual(['runName: expected a run name of at most 250 characters']);
    expect(issues({ runName: 'a\nb' })).toEqual(['runName: expected a run name without control characters (newlines, tabs)']);
  });

  it('names the run --name, else {entry}-{type}-{version}; registers unless --no-register', () => {
    const plain = WrapRequestSchema.parse(base);
    expect(plain.register).toBe(true);
    expect(wrappedRunName(plain)).toBe('acme-ppe-quant-v3');
    expect(wrappedRunName(WrapRequestSchema.parse({ ...base, runName: 'yolov11 int8 try 2', register: false }))).toBe('yolov11 int8 try 2');
  });
});
