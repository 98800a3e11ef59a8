import type { BatchProgress, PipelineProgress, PromotionProgress } from '../common/contract';
import { bounded, link, mlflowUrl, paramsLine, type UiLinks } from '../common/workflow-metadata';
import type { RuleDecision } from '../optimizer/decide';

/**
 * The markdown a long workflow keeps in `setCurrentDetails` (the Web UI's "Current details",
 * `temporal workflow describe`, the `__temporal_workflow_metadata` query): where it stands, in
 * words, rebuilt from its state each time that state changes (never on a timer: setting it issues
 * no command, so it costs no history). Pure, bounded to MAX_DETAILS.
 */

/** A heading, a markdown list and lines after it, each part after a blank line (else the UI's markdown runs them together), bounded. */
function withList(head: string, items: string[], after: string[]): string {
  return bounded([head, ...(items.length > 0 ? ['', ...items] : []), ...(after.length > 0 ? ['', ...after] : [])].join('\n'));
}

/** A number as the details show it: at most 4 decimals, no trailing zeros. */
const num = (value: number) => String(Number(value.toFixed(4)));

/** `MLflow: parent run …` once the workflow's run exists. */
function runLine(links: UiLinks | undefined, label: string, p: { experimentId?: string; runId?: string }): string[] {
  return p.runId === undefined ? [] : [`${label}: ${link(p.runId, mlflowUrl(links, { experimentId: p.experimentId, runId: p.runId }))}`];
}

/**
 * A sweep: trials started of the total, how many are done, running, queued, failed, stopped early
 * or cancelled, and the best so far with its parameters.
 */
export function sweepCurrentDetails(p: BatchProgress, started: number, links?: UiLinks): string {
  const counts = [`${p.done} done`, `${p.running} running`, ...(p.queued ? [`${p.queued} queued`] : []), `${p.failed} failed`, `${p.stopped} stopped early`, ...(p.cancelled ? [`${p.cancelled} cancelled`] : [])];
  const lines = [`**${p.phase}** · ${started} of ${p.total} trials started: ${counts.join(' · ')}`];
  lines.push(
    p.best
      ? `best so far: \`${p.metric}\` = ${num(p.best.value)}, trial ${p.best.index} (\`${paramsLine(p.best.params)}\`) · ${link('run', mlflowUrl(links, { experimentId: p.experimentId, runId: p.best.runId }))}`
      : `best so far: none yet (\`${p.metric}\`)`,
  );
  if (p.error) lines.push(`error: ${p.error}`);
  return bounded([...lines, ...runLine(links, 'parent run', p)].join('\n'));
}

/** A comparison: arms done (and failed) of the total and the leader so far. */
export function comparisonCurrentDetails(p: BatchProgress, leader: { label: string; value: number } | undefined, links?: UiLinks): string {
  const lines = [`**${p.phase}** · ${p.done + p.failed} of ${p.total} arms ended: ${p.done} done · ${p.running} running · ${p.failed} failed`];
  lines.push(leader ? `leader: ${leader.label} with \`${p.metric}\` = ${num(leader.value)}` : `leader: none yet (\`${p.metric}\`)`);
  if (p.error) lines.push(`error: ${p.error}`);
  return bounded([...lines, ...runLine(links, 'parent run', p)].join('\n'));
}

/** One finished pipeline stage and what it gave. */
export interface StageOutcome {
  stage: string;
  result: string;
}

/** A pipeline: the stage it is in and each finished stage's result. */
export function pipelineCurrentDetails(p: PipelineProgress, stages: StageOutcome[], links?: UiLinks): string {
  return withList(
    `**stage: ${p.phase}**`,
    stages.map((s) => `- ${s.stage}: ${s.result}`),
    [...(p.error ? [`error: ${p.error}`] : []), ...runLine(links, 'parent run', p)],
  );
}

/** Decisions listed one per line, at most this many (a policy over a big fleet has hundreds). */
const MAX_DECISIONS_SHOWN = 20;

/** An optimizer check: its phase and the decisions of the check (started ones first). */
export function optimizerCurrentDetails(phase: string, decisions: (RuleDecision & { error?: string })[], checkRun?: { experimentId: string; runId: string }, links?: UiLinks): string {
  const counts = new Map<string, number>();
  for (const d of decisions) counts.set(d.decision, (counts.get(d.decision) ?? 0) + 1);
  const head = `**${phase}** · ${decisions.length} decisions${counts.size > 0 ? `: ${[...counts].map(([kind, n]) => `${n} ${kind}`).join(' · ')}` : ''}`;
  const lines: string[] = [];
  const ordered = [...decisions].sort((a, b) => Number(b.decision === 'started') - Number(a.decision === 'started'));
  for (const d of ordered.slice(0, MAX_DECISIONS_SHOWN)) {
    const value = d.value === null ? 'no value' : `${num(d.value)} ${d.comparison} ${d.threshold}`;
    lines.push(`- ${d.rule} · ${d.siteKey} · ${d.task}: **${d.decision}** (\`${d.metric}\` ${value})${d.workflowId ? ` → \`${d.workflowId}\`` : ''}${d.error ? `: ${d.error}` : ''}`);
  }
  if (ordered.length > MAX_DECISIONS_SHOWN) lines.push(`- … ${ordered.length - MAX_DECISIONS_SHOWN} more in the check run's decisions.json`);
  return withList(head, lines, checkRun ? [`check run: ${link(checkRun.runId, mlflowUrl(links, checkRun))}`] : []);
}

/** A guarded promotion: what it waits for and until when, the soak's latest reading, or how it ended. */
export function promotionCurrentDetails(p: PromotionProgress): string {
  const lines = [`**${p.phase.replace('_', ' ')}** · ${p.model} v${p.version}`];
  if (p.phase === 'awaiting_approval') lines.push(`waiting for approval until ${p.approvalDeadline} (\`gflow approve|reject ${p.model} ${p.version}\`)`);
  if (p.soakUntil) {
    const seen = Object.entries(p.soakSeen ?? {});
    lines.push(`${p.phase === 'soaking' ? 'soaking' : 'soaked'} until ${p.soakUntil} · ${seen.length > 0 ? `seen: ${seen.map(([k, v]) => `\`${k}\` = ${v === null ? 'not measured' : num(v)}`).join(', ')}` : 'no reading yet'}`);
  }
  if (p.verdict) lines.push(`${p.verdict.approved ? 'approved' : 'rejected'} by ${p.verdict.by}${p.verdict.reason ? `: ${p.verdict.reason}` : ''}`);
  lines.push(`gate: ${p.gate}`);
  if (p.reason) lines.push(`why: ${p.reason}`);
  return bounded(lines.join('\n'));
}
