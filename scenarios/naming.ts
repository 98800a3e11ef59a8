import type { Scenario } from './schema';

/**
 * Naming rules of DESIGN §3. MLflow refuses `/` and `:` in registered model names, so the
 * seeds' slash form becomes dots there; experiment names keep the slashes.
 */

type SiteTask = Pick<Scenario, 'site' | 'task'>;

/** `{customer}/{region}-{plant}/{zone}`: one MLflow experiment per site zone. */
export function experimentName({ site }: Pick<Scenario, 'site'>): string {
  return `${site.customer}/${site.region}-${site.plant}/${site.zone}`;
}

/** The model name without folder or extension: `yolov8n.yaml` → `yolov8n`. */
export function architectureStem(architecture: string): string {
  const file = architecture.split('/').pop() ?? architecture;
  return file.replace(/\.(ya?ml|pt)$/, '');
}

/** `{task}-{arch}-{type}-{version}`, plus `-{index}` for the children of a sweep or comparison. */
export function runName(s: Pick<Scenario, 'task' | 'model' | 'type' | 'version'>, index?: number): string {
  const base = `${s.task.type}-${architectureStem(s.model.architecture)}-${s.type}-${s.version}`;
  return index === undefined ? base : `${base}-${index}`;
}

/** `{task}-{arch}-{design}-{version}`: the parent run of a pipeline, sweep or comparison (its children keep `{type}` names). */
export function parentRunName(s: Pick<Scenario, 'task' | 'model' | 'design' | 'version'>): string {
  return `${s.task.type}-${architectureStem(s.model.architecture)}-${s.design}-${s.version}`;
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
