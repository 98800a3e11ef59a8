import { experimentName } from './naming';
import type { Scenario } from './schema';

/** MLflow tags (`site.*`, `task.*`, `data.*`, `exp.*`) that make runs searchable by site and task, after the scenario's own `tags`. */
export function scenarioTags(s: Scenario): Record<string, string> {
  return compact({
    ...s.tags,
    'site.customer': s.site.customer,
    'site.region': s.site.region,
    'site.plant': s.site.plant,
    'site.zone': s.site.zone,
    'site.experiment': experimentName(s),
    'task.type': s.task.type,
    'task.classes': s.task.classes.join(','),
    'task.num_classes': s.task.classes.length,
    'data.path': s.dataset.path,
    'data.version': s.dataset.version,
    'data.dvc_hash': s.dataset.dvc_hash,
    'data.image_count': s.dataset.image_count,
    'exp.name': s.name,
    'exp.type': s.type,
    'exp.design': s.design,
    'exp.version': s.version,
    'exp.priority': s.priority,
  });
}

/** MLflow params (`model.*`, `env.*`, `train.*`, `aug.*`, `bench.*`, `quant.*`); write-once, so only what the scenario fixes. */
export function scenarioParams(s: Scenario): Record<string, string> {
  return compact({
    'model.architecture': s.model.architecture,
    'model.input_size': s.model.input_size,
    'model.weights': s.model.weights,
    'env.device': s.environment.device,
    'env.precision': s.environment.precision,
    'env.seed': s.environment.seed,
    'env.gpu_pool': s.environment.gpu_pool,
    ...prefixed('train', s.training),
    ...prefixed('aug', s.augmentation),
    ...prefixed('bench', s.benchmark),
    ...(s.quantization && {
      'quant.variants': s.quantization.variants.map((v) => `${v.backend}_${v.precision}`).join(','),
      'quant.calibration_size': s.quantization.calibration_size,
    }),
  });
}

function prefixed(prefix: string, block: object | undefined): Record<string, unknown> {
  if (!block) return {};
  return Object.fromEntries(
    Object.entries(block).flatMap(([k, v]: [string, unknown]): [string, unknown][] => {
      if (Array.isArray(v)) return [[`${prefix}.${k}`, v.join(',')]];
      if (typeof v === 'object' && v !== null) return Object.entries(prefixed(`${prefix}.${k}`, v));
      return [[`${prefix}.${k}`, v]];
    }),
  );
}

function compact(fields: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(fields)
      .filter(([, v]) => v !== undefined && v !== null)
      .map(([k, v]) => [k, String(v)]),
  );
}
