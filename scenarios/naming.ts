import type { Scenario } from './schema';

/**
 * Naming rules of docs/architecture.md §5. MLflow refuses `/` and `:` in registered model names, so the
 * seeds' slash form becomes dots there; experiment names keep the slashes.
 *
 * Two different scenarios never share an experiment, registered model or workflow id:
 * - `{region}-{plant}`: the schema refuses '-' in a region, so the first '-' splits the pair again
 *   (`south-busan` + `plant1` cannot meet `south` + `busan-plant1`); slugs hold no '/' or '.', the
 *   separators of experiment and model names.
 * - `{task}-{arch}-{type}-{version}`: the task and type are fixed words, and the schema refuses a
 *   version with a type or design word as a '-' part, so the name reads back from the right.
 * - `{arch}` is the architecture's file name: `.yaml` dropped (`yolov8n`), `.pt` kept
 *   (`yolov8n.pt`), and the schema refuses a config named `*.pt.yaml`. Weights files of the same
 *   name in two folders share it; Temporal then refuses the second start as already started
 *   (give the scenarios different versions).
 */

type SiteTask = Pick<Scenario, 'site' | 'task'>;

/** `{customer}/{region}-{plant}/{zone}`: one MLflow experiment per site zone. */
export function experimentName({ site }: Pick<Scenario, 'site'>): string {
  return `${site.customer}/${site.region}-${site.plant}/${site.zone}`;
}

/** The architecture in run names: `yolov8n.yaml` → `yolov8n`, `/models/site_a/best.pt` → `best.pt`. */
export function architectureName(architecture: string): string {
  const file = architecture.split('/').pop() ?? architecture;
  return file.replace(/\.yaml$/, '');
}

/** `{task}-{arch}-{type}-{version}`, plus `-{index}` for the children of a sweep or comparison. */
export function runName(s: Pick<Scenario, 'task' | 'model' | 'type' | 'version'>, index?: number): string {
  const base = `${s.task.type}-${architectureName(s.model.architecture)}-${s.type}-${s.version}`;
  return index === undefined ? base : `${base}-${index}`;
}

/** `{task}-{arch}-{design}-{version}`: the parent run of a pipeline, sweep or comparison (its children keep `{type}` names). */
export function parentRunName(s: Pick<Scenario, 'task' | 'model' | 'design' | 'version'>): string {
  return `${s.task.type}-${architectureName(s.model.architecture)}-${s.design}-${s.version}`;
}

/** `{customer}.{region}-{plant}.{zone}.{task}`, quantized variants suffixed `__{backend}_{precision}`. */
export function registeredModelName(s: SiteTask, variant?: { backend: string; precision: string }): string {
  const base = `${s.site.customer}.${s.site.region}-${s.site.plant}.${s.site.zone}.${s.task.type}`;
  return variant ? `${base}__${variant.backend}_${variant.precision}` : base;
}

/** `gf/{design}/{experiment}/{run name}`: deterministic, so starting a scenario twice is refused. */
export function workflowId(s: Pick<Scenario, 'design' | 'site' | 'task' | 'model' | 'type' | 'version'>): string {
  return `gf/${s.design}/${experimentName(s)}/${runName(s)}`;
}

/**
 * The idempotency key of one MLflow run: stable across activity retries and continue-as-new
 * (first execution run id), distinct for a deliberate re-run of the same workflow id.
 */
export function runKey(workflowIdValue: string, firstExecutionRunId: string, trial: string): string {
  return `${workflowIdValue}@${firstExecutionRunId}#${trial}`;
}
