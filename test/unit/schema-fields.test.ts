import { ModelSchema, ScenarioSchema } from '../../scenarios/schema';
import { checkScenario } from '../../scenarios/validate';

/**
 * Every field's bounds, patterns, defaults and messages, one field at a time: the value just
 * inside a bound is accepted and the one just outside is refused with the message a user sees.
 * Plain objects, as the workflow path validates them (schema.test.ts covers the YAML lines).
 */

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const BASE = {
  name: 't',
  version: 'v1',
  type: 'train',
  site: { customer: 'c', region: 'r', plant: 'p', zone: 'z' },
  task: { type: 'ppe', classes: ['helmet'] },
  model: { architecture: 'yolov8n.yaml', input_size: 64 },
  dataset: { path: '/d/data.yaml', version: 'v1' },
  training: { epochs: 3, batch_size: 16, learning_rate: 0.01 },
};

/** BASE with `field` (a dotted path) set to `value`; `undefined` removes it. */
function withField(field: string, value: Json | undefined, base: object = BASE): Record<string, unknown> {
  const copy = structuredClone(base) as Record<string, unknown>;
  const keys = field.split('.');
  let node = copy;
  for (const key of keys.slice(0, -1)) {
    node[key] ??= {};
    node = node[key] as Record<string, unknown>;
  }
  if (value === undefined) delete node[keys[keys.length - 1]];
  else node[keys[keys.length - 1]] = value;
  return copy;
}

/** `path: message` of every issue, or [] for a valid scenario. */
function issuesOf(input: unknown): string[] {
  const checked = checkScenario(input);
  return checked.ok ? [] : checked.issues.map((i) => `${i.path}: ${i.message}`);
}

const refused = (field: string, value: Json | undefined, base?: object) => issuesOf(withField(field, value, base));
const accepts = (field: string, values: Json[], base?: object) => {
  for (const value of values) expect([field, value, issuesOf(withField(field, value, base))]).toEqual([field, value, []]);
};

/** The parsed scenario (defaults applied) of a valid input. */
function parsed(input: unknown) {
  const checked = checkScenario(input);
  if (!checked.ok) throw new Error(`expected a valid scenario: ${JSON.stringify(checked.issues)}`);
  return checked.scenario;
}

const slugMessage = (what: string, value: string) => `expected a ${what} of lowercase letters, digits, '-' or '_', got ${JSON.stringify(value)}`;

describe('names (site, scenario, version, GPU pool)', () => {
  it('accept lowercase letters, digits, - and _, starting with a letter or digit', () => {
    accepts('site.customer', ['c', '7', 'donghwa-entec', 'a_b-c9', '9x']);
    accepts('name', ['ppe-welding-baseline']);
    accepts('environment.gpu_pool', ['big_gpus']);
  });

  it.each([
    ['site.customer', 'customer'],
    ['site.plant', 'plant'],
    ['site.zone', 'zone'],
    ['name', 'scenario name'],
    ['version', 'version'],
    ['environment.gpu_pool', 'GPU pool name'],
  ])('%s names itself in the message', (field, what) => {
    expect(refused(field, 'Upper')).toEqual([`${field}: ${slugMessage(what, 'Upper')}`]);
  });

  it('refuse a first character that is not a letter or digit, and any character outside the set', () => {
    for (const value of ['-c', '_c', 'Xc', 'c/d', 'c.d', 'c:d', 'cD', 'c d', '']) expect(refused('site.plant', value)).toEqual([`site.plant: ${slugMessage('plant', value)}`]);
  });

  it('a region takes no hyphen (it joins region and plant), only letters, digits and _', () => {
    accepts('site.region', ['busan', 'south_busan', '9', '1a']);
    for (const value of ['south-busan', 'Busan', 'xB', '_south', 'b/c', 'b.']) {
      expect(refused('site.region', value)).toEqual([
        `site.region: expected a region of lowercase letters, digits or '_', got ${JSON.stringify(value)}: no '-', which joins region and plant in the experiment name {customer}/{region}-{plant}/{zone} (use '_')`,
      ]);
    }
  });

  it('a version has no type or design word as a part', () => {
    accepts('version', ['v1', 'rand-a', 'trains', 'v1-single_2', 'sweeps-x']);
    for (const version of ['train', 'v1-infer', 'quant-2', 'single', 'a-sweep-b', 'comparison', 'pipeline-1']) {
      expect(refused('version', version)).toEqual([
        `version: expected a version without train, infer, quant, single, sweep, comparison, pipeline as a '-'-separated part, got ${JSON.stringify(version)}: the run name {task}-{arch}-{type}-{version} could be read two ways (use '_')`,
      ]);
    }
  });
});

describe('task', () => {
  it('classes: at least one, unique, of letters, digits, _, . and -', () => {
    accepts('task.classes', [['helmet'], ['a.b-c_9', 'X']]);
    expect(refused('task.classes', [])).toEqual(['task.classes: expected at least one class']);
    expect(refused('task.classes', ['hat', 'hat'])).toEqual(['task.classes: class names must be unique']);
    for (const name of ['hard hat', ' helmet', 'helmet ', 'a/b', '']) {
      expect(refused('task.classes', ['ok', name])).toEqual([`task.classes.1: expected a class name of letters, digits, '_', '.', '-', got ${JSON.stringify(name)}`]);
    }
  });

  it('type: one of the five tasks', () => {
    accepts('task.type', ['ppe', 'fall', 'fire', 'collision', 'stuck']);
    expect(refused('task.type', 'hat')).toEqual(['task.type: expected one of ppe, fall, fire, collision, stuck, got string "hat"']);
  });
});

describe('model', () => {
  const ARCH = (value: string) => `model.architecture: expected an ultralytics model config such as yolov8n.yaml, or the path of a local .yaml config or .pt file (not *.pt.yaml), got ${JSON.stringify(value)}`;

  it('architecture: a .yaml config or .pt file, no URI, no *.pt.yaml', () => {
    accepts('model.architecture', ['yolov8n.yaml', 'rtdetr-l.yaml', '/w/best.pt', 'configs/my yolo.yaml', 'x.pt', 'a.yaml.pt', 'x.pt.pt.yaml.yaml']);
    for (const value of ['yolov8n', 'yolov8nyaml', 'best.pth', 'x.yaml.bak', 'best.pt.yaml', '.pt', 's3://b/x.pt', 'a:b.yaml', 'a\nb.yaml', 'a\0b.pt', 'x.yml']) expect(refused('model.architecture', value)).toEqual([ARCH(value)]);
  });

  it('input_size: a multiple of 32 from 32 to 4096', () => {
    accepts('model.input_size', [32, 640, 4096]);
    // The message of these two is wrong today ("expected an integer, got 0": the int's own message
    // replaces zod's for every issue); the bounds themselves are what this test holds.
    expect(refused('model.input_size', 0)).toEqual([expect.stringMatching(/^model\.input_size: /)]);
    expect(refused('model.input_size', 4128)).toEqual([expect.stringMatching(/^model\.input_size: /)]);
    expect(refused('model.input_size', 96.5)).toEqual(['model.input_size: expected an integer, got number 96.5']);
    expect(refused('model.input_size', 48)).toEqual(['model.input_size: expected a multiple of 32, got 48']);
  });

  it('weights default to null', () => {
    expect(parsed(BASE).model).toEqual({ architecture: 'yolov8n.yaml', input_size: 64, weights: null });
  });
});

describe('dataset', () => {
  it('path: a local .yaml or .yml file', () => {
    accepts('dataset.path', ['/d/data.yaml', 'data.yml', 'dir/c:/data.yaml', '1s3://x/data.yaml']);
    for (const value of ['data.txt', 'datayaml', 'data.yaml.bak', 'data.yaaml']) {
      expect(refused('dataset.path', value)).toEqual([`dataset.path: expected the path of a YOLO data .yaml file, got ${JSON.stringify(value)}`]);
    }
    for (const value of ['HTTP://host/data.yml', 'git+ssh://h/d.yaml', 'S3://bucket/sets/data.yaml']) {
      expect(refused('dataset.path', value)).toEqual([`dataset.path: expected a local path or s3://<bucket>/<folder>/<data>.yaml (gflow data push), got ${JSON.stringify(value)}`]);
    }
  });

  it('path: an s3:// data .yaml inside a folder of a bucket (a pushed dataset)', () => {
    accepts('dataset.path', ['s3://guardianflow/datasets/acme/ppe/v3/data.yaml', 's3://my.bucket-1/a/data.yml']);
    const form = (value: string, why: string) => [`dataset.path: expected s3://<bucket>/<folder>/<data>.yaml (${why}), got ${JSON.stringify(value)}`];
    expect(refused('dataset.path', 's3://bucket/data.yaml')).toEqual(form('s3://bucket/data.yaml', 'the data .yaml inside a folder that holds the images and labels'));
    expect(refused('dataset.path', 's3://Bucket/sets/data.yaml')).toEqual(form('s3://Bucket/sets/data.yaml', 'a bucket of 3-63 lowercase letters, digits, . and -'));
    for (const value of ['s3://bucket/sets/../data.yaml', 's3://bucket/sets//data.yaml', 's3://bucket/./data.yaml']) {
      expect(refused('dataset.path', value)).toEqual(form(value, 'no empty, . or .. segments'));
    }
  });

  it('version and dvc_hash are not empty; image_count is positive', () => {
    expect(refused('dataset.version', '')).toEqual(['dataset.version: expected at least 1 character, got string ""']);
    expect(refused('dataset.dvc_hash', '')).toEqual(['dataset.dvc_hash: expected at least 1 character, got string ""']);
    expect(refused('dataset.image_count', 0)).toEqual(['dataset.image_count: expected more than 0, got number 0']);
    accepts('dataset.image_count', [1]);
    accepts('dataset.dvc_hash', ['a']);
  });
});

describe('environment', () => {
  it('defaults', () => {
    expect(parsed(BASE).environment).toEqual({ device: 'auto', precision: 'fp32', seed: 42, gpu_pool: 'default', workers: 2 });
  });

  it('device: auto, cpu, cuda, cuda:N or GPU indices', () => {
    accepts('environment.device', ['auto', 'cpu', 'cuda', 'cuda:0', 'cuda:12', '0', '0,1', '10,11,12']);
    for (const value of ['gpu', 'cuda:', 'cuda:x', 'cuda0', '0,', ',0', '0,,1', 'cpu0', 'xcpu', 'auto ', 'CPU', 'cuda:1,2', '']) {
      expect(refused('environment.device', value)).toEqual([`environment.device: expected auto, cpu, cuda, cuda:N or GPU indices like 0,1, got ${JSON.stringify(value)}`]);
    }
  });

  it('precision, seed and workers', () => {
    accepts('environment.precision', ['fp16']);
    expect(refused('environment.precision', 'int8')).toEqual(['environment.precision: expected one of fp32, fp16, got string "int8"']);
    accepts('environment.seed', [0]);
    expect(refused('environment.seed', -1)).toEqual(['environment.seed: expected at least 0, got number -1']);
    accepts('environment.workers', [0, 32]);
    expect(refused('environment.workers', -1)).toEqual(['environment.workers: expected at least 0, got number -1']);
    expect(refused('environment.workers', 33)).toEqual(['environment.workers: expected at most 32, got number 33']);
  });
});

describe('training', () => {
  it('defaults', () => {
    expect(parsed(BASE).training).toEqual({ epochs: 3, batch_size: 16, learning_rate: 0.01, optimizer: 'SGD', patience: 100, min_batch_size: 1, plots: true });
  });

  it('bounds', () => {
    accepts('training.epochs', [1, 10000]);
    expect(refused('training.epochs', 0)).toEqual(['training.epochs: expected at least 1, got number 0']);
    expect(refused('training.epochs', 10001)).toEqual(['training.epochs: expected at most 10000, got number 10001']);
    accepts('training.batch_size', [1, 1024]);
    expect(refused('training.batch_size', 1025)).toEqual(['training.batch_size: expected at most 1024, got number 1025']);
    expect(refused('training.batch_size', 0)).toEqual(['training.batch_size: expected at least 1, got number 0', 'training.min_batch_size: expected at most training.batch_size (0), got 1: it is the floor OOM halving stops at']);
    accepts('training.learning_rate', [1, 1e-6]);
    expect(refused('training.learning_rate', 0)).toEqual(['training.learning_rate: expected more than 0, got number 0']);
    expect(refused('training.learning_rate', 1.5)).toEqual(['training.learning_rate: expected at most 1, got number 1.5']);
    accepts('training.patience', [0]);
    expect(refused('training.patience', -1)).toEqual(['training.patience: expected at least 0, got number -1']);
    accepts('training.min_batch_size', [1, 16]);
    expect(refused('training.min_batch_size', 0)).toEqual(['training.min_batch_size: expected at least 1, got number 0']);
    expect(refused('training.min_batch_size', 17)).toEqual(['training.min_batch_size: expected at most training.batch_size (16), got 17: it is the floor OOM halving stops at']);
    accepts('training.plots', [false]);
    expect(refused('training.plots', 'no')).toEqual(['training.plots: expected true or false, got string "no"']);
  });

  it('optimizer: one of ultralytics\' optimizers', () => {
    accepts('training.optimizer', ['SGD', 'Adam', 'AdamW', 'NAdam', 'RAdam', 'RMSProp']);
    expect(refused('training.optimizer', 'sgd')).toEqual(['training.optimizer: expected one of SGD, Adam, AdamW, NAdam, RAdam, RMSProp, got string "sgd"']);
  });
});

const INFER = { ...BASE, type: 'infer', model: { ...BASE.model, weights: '/w/best.pt' }, training: undefined, benchmark: {} };

describe('benchmark and tracking', () => {
  it('defaults', () => {
    expect(parsed(INFER).benchmark).toEqual({ batch_sizes: [1], warmup_runs: 10, benchmark_runs: 100, conf_threshold: 0.25, iou_threshold: 0.7 });
    expect(parsed(withField('benchmark.tracking', { sequence: '/s', ground_truth: '/s/gt.txt' }, INFER)).benchmark!.tracking).toEqual({ sequence: '/s', ground_truth: '/s/gt.txt', tracker: 'bytetrack' });
  });

  it('bounds', () => {
    accepts('benchmark.batch_sizes', [[1, 64]], INFER);
    expect(refused('benchmark.batch_sizes', [], INFER)).toEqual(['benchmark.batch_sizes: expected at least 1 item, got 0']);
    expect(refused('benchmark.batch_sizes', [1, 0], INFER)).toEqual(['benchmark.batch_sizes.1: expected at least 1, got number 0']);
    accepts('benchmark.warmup_runs', [0], INFER);
    expect(refused('benchmark.warmup_runs', -1, INFER)).toEqual(['benchmark.warmup_runs: expected at least 0, got number -1']);
    accepts('benchmark.benchmark_runs', [1], INFER);
    expect(refused('benchmark.benchmark_runs', 0, INFER)).toEqual(['benchmark.benchmark_runs: expected at least 1, got number 0']);
    for (const field of ['benchmark.conf_threshold', 'benchmark.iou_threshold']) {
      accepts(field, [0, 1], INFER);
      expect(refused(field, -0.1, INFER)).toEqual([`${field}: expected at least 0, got number -0.1`]);
      expect(refused(field, 1.1, INFER)).toEqual([`${field}: expected at most 1, got number 1.1`]);
    }
  });

  it('tracking: a sequence and a MOTChallenge .txt ground truth', () => {
    const tracking = (fields: Record<string, Json>) => withField('benchmark.tracking', { sequence: '/s', ground_truth: '/s/gt.txt', ...fields }, INFER);
    expect(issuesOf(tracking({ tracker: 'botsort' }))).toEqual([]);
    expect(issuesOf(tracking({ tracker: 'sort' }))).toEqual(['benchmark.tracking.tracker: expected one of bytetrack, botsort, got string "sort"']);
    expect(issuesOf(tracking({ sequence: '' }))).toEqual(['benchmark.tracking.sequence: expected at least 1 character, got string ""']);
    for (const gt of ['/s/gt.csv', '/s/gt.txt.bak', '/s/gttxt']) expect(issuesOf(tracking({ ground_truth: gt }))).toEqual([`benchmark.tracking.ground_truth: expected a MOTChallenge gt.txt file, got ${JSON.stringify(gt)}`]);
  });
});

const QUANT = { ...BASE, type: 'quant', model: { ...BASE.model, weights: '/w/best.pt' }, training: undefined, quantization: { variants: [{ backend: 'onnx', precision: 'fp16' }] } };

describe('quantization', () => {
  it('defaults and bounds', () => {
    expect(parsed(QUANT).quantization).toEqual({ variants: [{ backend: 'onnx', precision: 'fp16' }], calibration_size: 300 });
    expect(refused('quantization.variants', [], QUANT)).toEqual(['quantization.variants: expected at least 1 item, got 0']);
    accepts('quantization.calibration_size', [1], QUANT);
    expect(refused('quantization.calibration_size', 0, QUANT)).toEqual(['quantization.calibration_size: expected at least 1, got number 0']);
    expect(refused('quantization.source_run_id', '', QUANT)).toEqual(['quantization.source_run_id: expected at least 1 character, got string ""']);
    expect(refused('quantization.variants', [{ backend: 'tflite', precision: 'int4' }], QUANT)).toEqual([
      'quantization.variants.0.backend: expected one of onnx, openvino, tensorrt, got string "tflite"',
      'quantization.variants.0.precision: expected one of fp32, fp16, int8, got string "int4"',
    ]);
  });

  it('a quant run needs a model to export: weights or a source run', () => {
    expect(refused('model.weights', null, QUANT)).toEqual(['quantization.source_run_id: required for type: quant unless model.weights names the model to export']);
    expect(issuesOf(withField('quantization.source_run_id', 'abc', withField('model.weights', null, QUANT)))).toEqual([]);
    expect(issuesOf(withField('design', 'pipeline', withField('model.weights', null, QUANT)))).toEqual([]);
  });
});

const SWEEP = { ...BASE, design: 'sweep', sweep: { parameters: { learning_rate: [0.01] } } };

describe('sweep', () => {
  it('defaults', () => {
    expect(parsed(SWEEP).sweep).toEqual({ parameters: { learning_rate: [0.01] }, strategy: 'grid', parallel: 1, metric: 'det.mAP50_95', goal: 'maximize', seed: 0, fail_fast: false });
    expect(parsed(withField('sweep.early_stopping', {}, SWEEP)).sweep!.early_stopping).toEqual({ rule: 'median', min_completed: 3, grace_epochs: 1 });
  });

  it('bounds', () => {
    accepts('sweep.strategy', ['random'], SWEEP);
    expect(refused('sweep.strategy', 'bayes', SWEEP)).toEqual(['sweep.strategy: expected one of grid, random, tpe, bayesian, got string "bayes"']);
    for (const field of ['sweep.max_runs', 'sweep.parallel', 'sweep.early_stopping.min_completed', 'sweep.early_stopping.grace_epochs']) {
      accepts(field, [1], SWEEP);
      expect(refused(field, 0, SWEEP)).toEqual([`${field}: expected at least 1, got number 0`]);
    }
    expect(refused('sweep.seed', -1, SWEEP)).toEqual(['sweep.seed: expected at least 0, got number -1']);
    expect(refused('sweep.early_stopping.rule', 'mean', SWEEP)).toEqual(['sweep.early_stopping.rule: expected one of median, asha, got string "mean"']);
    expect(refused('sweep.metric', '', SWEEP)).toEqual(['sweep.metric: expected at least 1 character, got string ""', expect.stringMatching(/^sweep\.metric: "" is not a metric a train run logs; did you mean /)]);
    expect(refused('sweep.goal', 'max', SWEEP)).toEqual(['sweep.goal: expected one of maximize, minimize, got string "max"']);
    expect(refused('sweep.parameters.epochs', [], SWEEP)).toEqual(['sweep.parameters.epochs: expected at least 1 item, got 0']);
  });

  it('values: numbers, strings or booleans, each checked against the field it overrides', () => {
    expect(refused('sweep.parameters.learning_rate', [{ a: 1 }], SWEEP)).toEqual(['sweep.parameters.learning_rate.0: expected a number, a string or a boolean, got a mapping']);
    expect(refused('sweep.parameters', { batch_size: [8, 2000], epochs: [0], optimizer: ['SGD', 'LBFGS'], patience: [-1], architecture: ['x.onnx'], seed: [1.5] }, SWEEP)).toEqual([
      // zod's own wording for the fields without a message of their own: only the bound is held here
      expect.stringMatching(/^sweep\.parameters\.batch_size\.1: .*1024/),
      expect.stringMatching(/^sweep\.parameters\.epochs\.0: .*1/),
      expect.stringMatching(/^sweep\.parameters\.optimizer\.1: .*RMSProp/),
      expect.stringMatching(/^sweep\.parameters\.patience\.0: .*0/),
      'sweep.parameters.architecture.0: expected an ultralytics model config such as yolov8n.yaml, or the path of a local .yaml config or .pt file (not *.pt.yaml), got "x.onnx"',
      expect.stringMatching(/^sweep\.parameters\.seed\.0: .*int/),
    ]);
    expect(refused('sweep.parameters', { input_size: [64, 100] }, SWEEP)).toEqual(['sweep.parameters.input_size.1: expected a multiple of 32, got 100']);
  });

  it('a sweep needs type: train', () => {
    expect(issuesOf({ ...SWEEP, type: 'infer', model: INFER.model, training: undefined, benchmark: {} })).toEqual(['design: a sweep varies training parameters: it needs type: train, got type: infer']);
  });

  it('grids up to 2^52 combinations are accepted, one more value is refused', () => {
    const values = (from: number) => Array.from({ length: 8192 }, (_, i) => from + i);
    const parameters = { epochs: values(1), patience: values(0), seed: values(0), learning_rate: values(1).map((v) => v / 10000) };
    expect(issuesOf(withField('sweep.parameters', parameters, SWEEP))).toEqual([]);
    expect(issuesOf(withField('sweep.parameters', { ...parameters, optimizer: ['SGD', 'Adam'] }, SWEEP))).toEqual(['sweep.parameters: 9007199254740992 combinations; at most 2^52 can be swept']);
  });
});

const COMPARE = { ...INFER, design: 'comparison' };
const RUN_IDS = ['0123456789abcdef0123456789abcdef', 'fedcba9876543210fedcba9876543210'];

describe('comparison', () => {
  it('defaults', () => {
    expect(parsed(withField('comparison', { run_ids: RUN_IDS }, COMPARE)).comparison).toEqual({ run_ids: RUN_IDS, metric: 'det.mAP50', goal: 'maximize', parallel: 2 });
  });

  it('names exactly one kind of arm', () => {
    const message = 'comparison: expected exactly one of architectures, run_ids, variants, datasets';
    expect(refused('comparison', {}, COMPARE)).toEqual([message]);
    expect(refused('comparison', { run_ids: RUN_IDS, variants: [{ backend: 'onnx', precision: 'fp16' }] }, COMPARE)).toEqual([message]);
  });

  it('bounds of each kind of arm', () => {
    expect(refused('comparison', { architectures: ['yolov8n.yaml'] }, COMPARE)).toEqual(['comparison.architectures: expected at least 2 items, got 1']);
    expect(refused('comparison', { architectures: ['yolov8n.yaml', 'x.onnx'] }, COMPARE)).toEqual([expect.stringMatching(/^comparison\.architectures\.1: /)]);
    expect(refused('comparison', { run_ids: [RUN_IDS[0]] }, COMPARE)).toEqual(['comparison.run_ids: expected at least 2 items, got 1']);
    expect(refused('comparison', { run_ids: [RUN_IDS[0], 'ABC'] }, COMPARE)).toEqual(['comparison.run_ids.1: expected a 32-hex MLflow run id, got "ABC"']);
    expect(refused('comparison', { run_ids: [RUN_IDS[0], `${RUN_IDS[1]}0`] }, COMPARE)).toEqual([`comparison.run_ids.1: expected a 32-hex MLflow run id, got "${RUN_IDS[1]}0"`]);
    expect(refused('comparison', { run_ids: [RUN_IDS[0], `x${RUN_IDS[1]}`] }, COMPARE)).toEqual([`comparison.run_ids.1: expected a 32-hex MLflow run id, got "x${RUN_IDS[1]}"`]);
    expect(refused('comparison', { variants: [] }, COMPARE)).toEqual(['comparison.variants: expected at least 1 item, got 0']);
    expect(refused('comparison', { datasets: [] }, COMPARE)).toEqual(['comparison.datasets: expected at least 1 item, got 0']);
    expect(refused('comparison', { datasets: [{ path: '/a.yaml', version: 'a' }], models: [] }, COMPARE)).toEqual(['comparison.models: expected at least 1 item, got 0']);
    expect(refused('comparison', { run_ids: RUN_IDS, parallel: 0 }, COMPARE)).toEqual(['comparison.parallel: expected at least 1, got number 0']);
  });

  it('datasets and models are listed once each', () => {
    const datasets = [{ path: '/a.yaml', version: 'a' }, { path: '/b.yaml', version: 'b' }, { path: '/a.yaml', version: 'c' }];
    expect(refused('comparison', { datasets }, COMPARE)).toEqual(['comparison.datasets.2: "/a.yaml" is listed twice']);
    expect(issuesOf(withField('comparison', { datasets: datasets.slice(0, 2), models: ['/m/a.pt', '/m/b.pt'] }, COMPARE))).toEqual([]);
    expect(refused('comparison', { datasets: datasets.slice(0, 1), models: ['/m/a.pt', '/m/b.pt', '/m/a.pt', '/m/a.pt'] }, COMPARE)).toEqual(['comparison.models.2: "/m/a.pt" is listed twice', 'comparison.models.3: "/m/a.pt" is listed twice']);
  });

  it('models go with datasets', () => {
    expect(refused('comparison', { run_ids: RUN_IDS, models: ['/m/a.pt'] }, COMPARE)).toEqual(['comparison.models: models go with datasets (the model × dataset matrix)']);
  });

  it('each kind of arm needs the experiment types that can run it', () => {
    const train = { ...COMPARE, type: 'train', training: BASE.training, benchmark: undefined };
    const quant = { ...COMPARE, type: 'quant', quantization: QUANT.quantization, benchmark: undefined };
    const datasets = { datasets: [{ path: '/a.yaml', version: 'a' }] };
    const variants = { variants: [{ backend: 'onnx', precision: 'fp16' }] };
    expect(refused('comparison', datasets, train)).toEqual(['comparison.datasets: a comparison of datasets needs type: infer, got type: train']);
    expect(refused('comparison', datasets, quant)).toEqual(['comparison.datasets: a comparison of datasets needs type: infer, got type: quant']);
    expect(refused('comparison', variants, train)).toEqual(['comparison.variants: a comparison of variants needs type: infer or quant, got type: train']);
    expect(refused('comparison', { architectures: ['yolov8n.yaml', 'yolov8s.yaml'] }, quant)).toEqual(['comparison.architectures: a comparison of architectures needs type: train or infer, got type: quant']);
    expect(issuesOf(withField('comparison', variants, quant))).toEqual([]);
    expect(issuesOf(withField('comparison', variants, COMPARE))).toEqual([]);
    expect(issuesOf(withField('comparison', { architectures: ['yolov8n.yaml', 'yolov8s.yaml'] }, train))).toEqual([]);
    expect(issuesOf(withField('comparison', { run_ids: RUN_IDS }, train))).toEqual([]);
    // a single infer run with a comparison block is not a comparison: the block is not checked against the type
    expect(issuesOf(withField('comparison', datasets, { ...train, design: 'single' }))).toEqual([]);
  });

  it('reads its metric from the runs its arms are: trained architectures log training keys, benchmarks latencies', () => {
    const train = { ...COMPARE, type: 'train', training: BASE.training, benchmark: undefined };
    const architectures = { architectures: ['yolov8n.yaml', 'yolov8s.yaml'] };
    expect(issuesOf(withField('comparison', { ...architectures, metric: 'det.box_loss' }, train))).toEqual([]);
    expect(refused('comparison', { ...architectures, metric: 'sys.latency_ms' }, train)).toEqual([expect.stringMatching(/^comparison\.metric: "sys\.latency_ms" is not a metric a train run logs \(other kinds of run log it\)/)]);
    expect(issuesOf(withField('comparison', { ...architectures, metric: 'sys.latency_ms' }, COMPARE))).toEqual([]);
    expect(refused('comparison', { ...architectures, metric: 'det.box_loss' }, COMPARE)).toEqual([expect.stringMatching(/^comparison\.metric: "det\.box_loss" is not a metric a benchmark run logs/)]);
    expect(issuesOf(withField('comparison', { run_ids: RUN_IDS, metric: 'det.box_loss' }, train))).toEqual([]);
    expect(refused('comparison', { run_ids: RUN_IDS, metric: 'sys.bs4.fps' }, train)).toEqual([]);
    expect(refused('comparison', { variants: [{ backend: 'onnx', precision: 'fp16' }], metric: 'sys.bs8.fps' }, withField('benchmark.batch_sizes', [8], COMPARE))).toEqual([]);
  });

  it('an infer comparison of models or architectures names its models itself; other infer runs need weights', () => {
    const noWeights = withField('model.weights', null, COMPARE);
    expect(issuesOf(withField('comparison', { datasets: [{ path: '/a.yaml', version: 'a' }], models: ['/m/a.pt'] }, noWeights))).toEqual([]);
    expect(issuesOf(withField('comparison', { architectures: ['yolov8n.yaml', 'yolov8s.yaml'] }, noWeights))).toEqual([]);
    const weightsRequired = 'model.weights: required for type: infer: the model to benchmark (a .pt path, runs:/<run id>/<path> or models:/<name>@<alias>)';
    expect(refused('comparison', { datasets: [{ path: '/a.yaml', version: 'a' }] }, noWeights)).toEqual([weightsRequired]);
    expect(refused('model.weights', null, INFER)).toEqual([weightsRequired]);
    expect(refused('comparison', { architectures: ['yolov8n.yaml', 'yolov8s.yaml'] }, { ...noWeights, design: 'single' })).toEqual([weightsRequired]);
  });
});

describe('promotion', () => {
  it('max_accuracy_drop is not negative; min_improvement may be', () => {
    accepts('promotion', [{ max_accuracy_drop: 0, min_improvement: -0.5 }]);
    expect(refused('promotion', { max_accuracy_drop: -0.01 })).toEqual(['promotion.max_accuracy_drop: expected at least 0, got number -0.01']);
    expect(refused('promotion', { goal: 'up' })).toEqual(['promotion.goal: expected one of maximize, minimize, got string "up"']);
  });
});

describe('blocks each type and design needs', () => {
  it.each([
    ['train', 'single', { training: undefined }, 'training: required for type: train, design: single'],
    ['infer', 'single', { benchmark: undefined }, 'benchmark: required for type: infer, design: single'],
    ['quant', 'single', { quantization: undefined }, 'quantization: required for type: quant, design: single'],
    ['train', 'sweep', { sweep: undefined }, 'sweep: required for type: train, design: sweep'],
    ['infer', 'comparison', { comparison: undefined }, 'comparison: required for type: infer, design: comparison'],
    ['train', 'pipeline', { quantization: undefined }, 'quantization: required for type: train, design: pipeline'],
  ])('type %s, design %s', (type, design, without, message) => {
    const full = { ...BASE, type, design, model: INFER.model, benchmark: {}, quantization: QUANT.quantization, sweep: SWEEP.sweep, comparison: { run_ids: RUN_IDS } };
    expect(issuesOf({ ...full, ...without })).toEqual([message]);
    expect(issuesOf(full)).toEqual([]);
  });

  it('refuses unknown blocks and types', () => {
    expect(issuesOf({ ...BASE, extra: 1 })).toEqual(['extra: unknown key']);
    expect(issuesOf({ ...BASE, design: 'matrix' })).toEqual(['design: expected one of single, sweep, comparison, pipeline, got string "matrix"']);
  });
});

describe('the schema\'s own issues (what ScenarioSchema.parse throws, e.g. for a sweep trial)', () => {
  it('every rule across fields is a custom issue at its field', () => {
    const codes = (input: unknown) => {
      const result = ScenarioSchema.safeParse(input);
      return result.success ? [] : result.error.issues.map((i) => `${i.code} ${i.path.join('.')}`);
    };
    expect(codes(withField('model.weights', `runs:/${'a'.repeat(32)}/../x.pt`))).toEqual(['custom model.weights']);
    expect(codes(withField('training.min_batch_size', 32))).toEqual(['custom training.min_batch_size']);
    expect(
      codes({ ...SWEEP, training: { ...BASE.training, min_batch_size: 8 }, sweep: { parameters: { dropout: [1], epochs: [0], seed: [1, 1], batch_size: [4] }, metric: 'det.nope' }, promotion: { metric: 'det.nope' } }),
    ).toEqual(['custom sweep.parameters.dropout', 'custom sweep.parameters.epochs.0', 'custom sweep.parameters.seed.1', 'custom sweep.parameters.batch_size.0', 'custom sweep.metric', 'custom promotion.metric']);
    expect(codes({ ...SWEEP, sweep: { parameters: JSON.parse('{"__proto__": [1]}') as object } })).toEqual(['custom sweep.parameters.__proto__']);
    expect(codes({ ...INFER, design: 'sweep', sweep: SWEEP.sweep, model: BASE.model })).toEqual(['custom design', 'custom model.weights']);
    expect(codes(withField('comparison', { datasets: [{ path: '/a.yaml', version: 'a' }, { path: '/a.yaml', version: 'b' }] }, COMPARE))).toEqual(['custom comparison.datasets.1']);
    expect(codes(withField('comparison', { datasets: [{ path: '/a.yaml', version: 'a' }] }, { ...COMPARE, type: 'train', training: BASE.training }))).toEqual(['custom comparison.datasets']);
    expect(codes({ ...QUANT, model: BASE.model, quantization: undefined })).toEqual(['custom quantization.source_run_id', 'custom quantization']);
  });

  it('an integer field says so when given another type', () => {
    const result = ModelSchema.safeParse({ architecture: 'yolov8n.yaml', input_size: '64' });
    expect(result.success ? [] : result.error.issues.map((i) => i.message)).toEqual(['expected an integer, got "64"']);
  });

  it('a sweep grid of 2^52 + more values is refused by its size', () => {
    const result = ScenarioSchema.safeParse({ ...SWEEP, sweep: { parameters: { epochs: Array.from({ length: 8192 }, (_, i) => i + 1), patience: Array.from({ length: 8192 }, (_, i) => i), seed: Array.from({ length: 8192 }, (_, i) => i), learning_rate: Array.from({ length: 8193 }, (_, i) => (i + 1) / 10000) } } });
    expect(result.success ? [] : result.error.issues.map((i) => [i.code, i.path.join('.'), i.message])).toEqual([['custom', 'sweep.parameters', '4504149383184384 combinations; at most 2^52 can be swept']]);
  });
});

describe('sweep parameters that are not a mapping', () => {
  it('null, a list or a missing map are type errors, not a crash', () => {
    expect(refused('sweep.parameters', null, SWEEP)).toEqual(['sweep.parameters: expected a mapping, got null']);
    expect(refused('sweep.parameters', 'lr', SWEEP)).toEqual(['sweep.parameters: expected a mapping, got string "lr"']);
    expect(refused('sweep.parameters', undefined, SWEEP)).toEqual(['sweep.parameters: required (a mapping)']);
  });

  it('a __proto__ parameter is named like any unknown one', () => {
    expect(issuesOf({ ...SWEEP, sweep: { parameters: JSON.parse('{"__proto__": [1], "epochs": [2]}') as object } })).toEqual([
      'sweep.parameters.__proto__: not a sweepable parameter; expected one of learning_rate, batch_size, epochs, optimizer, patience, lrf, cos_lr, warmup_epochs, weight_decay, momentum, input_size, architecture, seed, their dotted paths (training.learning_rate, model.input_size, …) or augmentation.<field> (hsv_h, hsv_s, hsv_v, degrees, translate, scale, shear, perspective, flipud, fliplr, bgr, mosaic, mixup, cutmix, copy_paste, close_mosaic)',
    ]);
  });

  it('integer fields of a transformed block are still named as integers', () => {
    expect(refused('sweep.max_runs', '5', SWEEP)).toEqual(['sweep.max_runs: expected an integer, got string "5"']);
    expect(refused('promotion', { min_improvement: '0.1' })).toEqual(['promotion.min_improvement: expected a number, got string "0.1"']);
  });
});
