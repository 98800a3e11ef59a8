import { architectureName, experimentName, registeredModelName } from '../scenarios/naming';
import type { Scenario } from '../scenarios/schema';

/**
 * What the Temporal Web UI (and `temporal workflow describe`) shows of a workflow besides its type
 * and id: a one-line `staticSummary` for the list and a markdown `staticDetails` for its page,
 * fixed at start (docs/architecture.md §6, "What the Web UI shows"). One pure module used by the
 * CLI, which starts top-level workflows, and by workflows, which start children, so both say the
 * same things the same way. No Node built-ins: workflows import it.
 */

/**
 * Base URLs of the UIs a workflow's details link to. They come from settings; a workflow cannot
 * read settings (it must stay deterministic), so they travel in its input, from the CLI to the
 * workflow it starts and from a workflow to its children. Absent: the details name what they
 * would link to, without a link.
 */
export interface UiLinks {
  /** The MLflow UI as a browser reaches it (`settings.mlflow.uiUrl`). */
  mlflow?: string;
  /** The fleet page (`gflow serve`), ending in `/`. */
  fleet?: string;
}

export interface WorkflowMetadata {
  staticSummary: string;
  staticDetails: string;
}

/** Temporal shows a summary on one line; longer ones are cut here rather than by the UI mid-word. */
export const MAX_SUMMARY = 200;
/** Details are markdown on the workflow's page: enough for a scenario's essentials, never a dump. */
export const MAX_DETAILS = 4000;

/** Where an MLflow run, experiment or model version is, when the MLflow UI's address is known. */
export interface MlflowPlace {
  experimentId?: string;
  runId?: string;
  /** Which run `runId` is, in words (`parent run`, `run`). */
  runLabel?: string;
}

/** Short names of swept parameters in one-line summaries (`lr=0.01 bs=16`); others keep their name. */
const SHORT_PARAM: Record<string, string> = { learning_rate: 'lr', batch_size: 'bs', input_size: 'imgsz', architecture: 'arch', optimizer: 'opt' };

/** `lr=0.01 bs=16`: trial parameters on one line. */
export function paramsLine(params: Record<string, string | number | boolean>): string {
  return Object.entries(params)
    .map(([key, value]) => `${SHORT_PARAM[key] ?? key}=${key === 'architecture' ? architectureName(String(value)) : String(value)}`)
    .join(' ');
}

/** One line of at most MAX_SUMMARY characters: newlines become spaces, a cut line ends in `…`. */
export function oneLine(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length <= MAX_SUMMARY ? line : `${line.slice(0, MAX_SUMMARY - 1)}…`;
}

/** Markdown of at most `max` characters, cut at a line end where it must be cut. */
export function bounded(markdown: string, max = MAX_DETAILS): string {
  if (markdown.length <= max) return markdown;
  const cut = markdown.slice(0, max - 2);
  return `${cut.slice(0, Math.max(cut.lastIndexOf('\n'), 0))}\n…`;
}

/** A heading line and its list, a blank line between (markdown renders the items as a list only then), bounded. */
export function section(head: string, items: string[]): string {
  return bounded([head, '', ...items].join('\n'));
}

/** `[label](url)` when the UI's address is known, else the label as code. */
export function link(label: string, url: string | undefined): string {
  return url === undefined ? `\`${label}\`` : `[${label}](${url})`;
}

/** The MLflow UI's page of an experiment, a run or a registered model version (undefined without the UI's address). */
export function mlflowUrl(links: UiLinks | undefined, place: { experimentId?: string; runId?: string; model?: string; version?: string }): string | undefined {
  if (!links?.mlflow) return undefined;
  if (place.model !== undefined && place.version !== undefined) return `${links.mlflow}/#/models/${encodeURIComponent(place.model)}/versions/${place.version}`;
  if (place.experimentId === undefined) return undefined;
  return `${links.mlflow}/#/experiments/${place.experimentId}${place.runId !== undefined ? `/runs/${place.runId}` : ''}`;
}

/** The fleet page filtered to one customer and task (the page keeps its filters in the URL). */
export function fleetUrl(links: UiLinks | undefined, customer: string, task: string): string | undefined {
  return links?.fleet === undefined ? undefined : `${links.fleet}?customer=${encodeURIComponent(customer)}&task=${encodeURIComponent(task)}`;
}

/** `MLflow: experiment … · parent run …` for a workflow whose experiment (and run) exist already. */
export function mlflowLine(links: UiLinks | undefined, experiment: string, place: MlflowPlace): string {
  const parts = [`experiment ${link(experiment, mlflowUrl(links, { experimentId: place.experimentId }))}`];
  if (place.runId !== undefined) parts.push(`${place.runLabel ?? 'run'} ${link(place.runId, mlflowUrl(links, place))}`);
  return `MLflow: ${parts.join(' · ')}`;
}

/**
 * `sweep train · acme/north-p1/gate · ppe · yolov8n · v2`: what a person scanning the workflow
 * list needs (design and type, site, task, model, version), after what this workflow is within
 * its parent (`trial 7 · lr=0.01 bs=16`, `stage quant`) when it is a child.
 */
export function scenarioSummary(s: Scenario, role?: string): string {
  const parts = [`${s.design} ${s.type}`, experimentName(s), s.task.type, architectureName(s.model.architecture), s.version];
  return oneLine([...(role ? [role] : []), ...parts].join(' · '));
}

/**
 * The scenario's essentials in markdown: what is trained or measured, on which data, how, and
 * where to look (its MLflow experiment and run where they exist, the site's fleet page).
 */
export function scenarioDetails(s: Scenario, opts: { links?: UiLinks; role?: string; mlflow?: MlflowPlace } = {}): string {
  const site = experimentName(s);
  const head = `**${s.design} ${s.type}**${opts.role ? ` (${opts.role})` : ''} · task \`${s.task.type}\` (${s.task.classes.join(', ')}) at \`${site}\` · version \`${s.version}\``;
  const lines: string[] = [];
  const model = [`model \`${s.model.architecture}\``, `input ${s.model.input_size}`, ...(s.model.weights ? [`weights \`${s.model.weights}\``] : [])];
  lines.push(`- ${model.join(' · ')}`, `- dataset \`${s.dataset.path}\` · version \`${s.dataset.version}\``);
  if (s.training) lines.push(`- training: ${s.training.epochs} epochs · batch ${s.training.batch_size} · lr ${s.training.learning_rate} · ${s.training.optimizer}`);
  if (s.sweep) {
    const sw = s.sweep;
    const runs = sw.max_runs === undefined ? 'every combination' : `at most ${sw.max_runs} runs`;
    lines.push(`- sweep: ${sw.strategy} over ${Object.keys(sw.parameters).join(', ')} · ${runs}, ${sw.parallel} at a time · \`${sw.metric}\` (${sw.goal})`);
  }
  if (s.comparison) {
    const c = s.comparison;
    const arms = c.architectures?.length ?? c.run_ids?.length ?? c.variants?.length ?? (c.datasets?.length ?? 0) * (c.models?.length ?? 1);
    const variable = c.architectures ? 'architecture' : c.run_ids ? 'run id' : c.variants ? 'quantization' : 'dataset';
    lines.push(`- comparison by ${variable}: ${arms} arms, ${c.parallel} at a time · \`${c.metric}\` (${c.goal})`);
  }
  if (s.quantization) lines.push(`- quantization: ${s.quantization.variants.map((v) => `${v.backend} ${v.precision}`).join(', ')}`);
  if (s.promotion) lines.push(`- promotion gate: \`${s.promotion.metric}\` ${s.promotion.goal ?? ''} by at least ${s.promotion.min_improvement}`.replace('  ', ' '));
  lines.push(`- GPU pool \`${s.environment.gpu_pool}\` · device \`${s.environment.device}\``);
  if (s.type === 'train' && s.design !== 'comparison') lines.push(`- registered model \`${registeredModelName(s)}\``);
  lines.push(`- ${mlflowLine(opts.links, site, opts.mlflow ?? {})}`);
  lines.push(`- fleet page: ${link(`${s.site.customer} · ${s.task.type}`, fleetUrl(opts.links, s.site.customer, s.task.type))}`);
  return section(head, lines);
}

/** Summary and details of a scenario's workflow (top-level from the CLI, or a child with its `role`). */
export function scenarioMetadata(s: Scenario, opts: { links?: UiLinks; role?: string; mlflow?: MlflowPlace } = {}): WorkflowMetadata {
  return { staticSummary: scenarioSummary(s, opts.role), staticDetails: scenarioDetails(s, opts) };
}

/** A wrapped legacy script (`gflow wrap`): its site, task, script and version. */
export function legacyMetadata(
  req: { name: string; type: string; version: string; script?: string; params: Record<string, string>; entry: { path: string; site: Scenario['site']; task: { type: string }; gpu_pool?: string } },
  links?: UiLinks,
): WorkflowMetadata {
  const site = experimentName(req.entry);
  const script = req.script ?? 'default entry point';
  return {
    staticSummary: oneLine(`legacy ${req.type} · ${site} · ${req.entry.task.type} · ${script} · ${req.version}`),
    staticDetails: section(
      `**legacy ${req.type}** of \`${req.name}\` at \`${site}\` · version \`${req.version}\``,
      [
        `- folder \`${req.entry.path}\` · script \`${script}\``,
        `- parameters: ${Object.keys(req.params).length > 0 ? `\`${paramsLine(req.params)}\`` : 'none'}`,
        `- GPU pool \`${req.entry.gpu_pool ?? 'default'}\``,
        `- ${mlflowLine(links, site, {})}`,
        `- fleet page: ${link(`${req.entry.site.customer} · ${req.entry.task.type}`, fleetUrl(links, req.entry.site.customer, req.entry.task.type))}`,
      ],
    ),
  };
}

/** A registry move (`gflow promote|rollback`, a pipeline's gate, a guarded promotion's promote or rollback). */
export function registryMoveMetadata(input: { model: string; op: string; version?: string; by?: string; reason?: string; expectChampion?: string }, links?: UiLinks): WorkflowMetadata {
  const version = input.version ?? input.expectChampion;
  const what = `${input.op} ${input.model}${version ? ` v${version}` : ''}`;
  return {
    staticSummary: oneLine(`${what}${input.by ? ` · by ${input.by}` : ''}`),
    staticDetails: section(
      `**${input.op}** of \`${input.model}\`${version ? ` (${link(`v${version}`, mlflowUrl(links, { model: input.model, version }))})` : ''}`,
      [
        `- by: ${input.by ?? 'unknown'}`,
        `- why: ${input.reason ?? '-'}`,
      ],
    ),
  };
}

/** A guarded promotion: the version, its gate and the guards ahead of it (approval, soak). */
export function promotionMetadata(
  input: {
    model: string;
    version: string;
    gate: { promote: boolean; reason: string };
    promotion: { approval: string; approval_timeout: string; soak?: string; soak_check_every: string; rollback_when?: { metric: string; comparison: string; threshold: number }[] };
  },
  links?: UiLinks,
): WorkflowMetadata {
  const p = input.promotion;
  const guards = [p.approval === 'required' ? `approval within ${p.approval_timeout}` : 'no approval', p.soak ? `soak ${p.soak}` : 'no soak'];
  const breach = (p.rollback_when ?? []).map((b) => `\`${b.metric} ${b.comparison} ${b.threshold}\``).join(' or ');
  return {
    staticSummary: oneLine(`guarded promotion · ${input.model} v${input.version} · ${input.gate.promote ? 'gate passed' : 'gate refused'} · ${guards.join(' · ')}`),
    staticDetails: section(
      `**guarded promotion** of ${link(`${input.model} v${input.version}`, mlflowUrl(links, { model: input.model, version: input.version }))}`,
      [
        `- gate: ${input.gate.promote ? 'passed' : 'refused'}: ${input.gate.reason}`,
        `- approval: ${p.approval === 'required' ? `required, within ${p.approval_timeout} (\`gflow approve|reject\`)` : 'none'}`,
        `- soak: ${p.soak ? `${p.soak}, read every ${p.soak_check_every}; rolled back when ${breach || '-'}` : 'none'}`,
      ],
    ),
  };
}

/** One optimizer check (the schedule's action): its policy file and interval. */
export function optimizerMetadata(input: { policyFile: string; every?: string }): WorkflowMetadata {
  return {
    staticSummary: oneLine(`optimizer check · ${input.policyFile}${input.every ? ` · every ${input.every}` : ''}`),
    staticDetails: section(
      `**optimizer check** of the policy \`${input.policyFile}\`${input.every ? `, every ${input.every}` : ''}`,
      [
        '- decides per rule × site task over the fleet; records the check in the MLflow experiment `optimizer`; starts each action as `gf/optimizer/{rule}/{site}/{task}/{window}`',
      ],
    ),
  };
}

/** One optimizer action: the rule, what it does, for which site task, and from which champion. */
export function optimizerActionMetadata(
  planned: { workflowType: string; scenario: Scenario },
  rule: { name: string; action: { type: string }; when: { metric: string; comparison: string; threshold: number }; promotion: { approval: string; soak?: string } },
  links?: UiLinks,
): WorkflowMetadata {
  const s = planned.scenario;
  return {
    staticSummary: oneLine(`optimizer ${rule.action.type} · ${experimentName(s)} · ${s.task.type} · ${architectureName(s.model.architecture)} · ${s.version}`),
    staticDetails: section(
      `**optimizer action** \`${rule.action.type}\` of rule \`${rule.name}\` (\`${rule.when.metric} ${rule.when.comparison} ${rule.when.threshold}\`)`,
      [
        `- runs a \`${planned.workflowType}\` of \`${registeredModelName(s)}\`, then a guarded promotion of each new candidate (approval: ${rule.promotion.approval}; soak: ${rule.promotion.soak ?? 'none'})`,
        `- ${mlflowLine(links, experimentName(s), {})}`,
        `- fleet page: ${link(`${s.site.customer} · ${s.task.type}`, fleetUrl(links, s.site.customer, s.task.type))}`,
      ],
    ),
  };
}
