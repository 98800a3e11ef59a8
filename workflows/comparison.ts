import { ApplicationFailure, CancellationScope, executeChild, isCancellation, setCurrentDetails, setHandler, workflowInfo } from '@temporalio/workflow';
import type { Duration } from '@temporalio/common';
import { BatchPhase, batchProgressQuery, type BatchProgress } from '../common/contract';
import { FailureType } from '../common/failure-types';
import { scenarioMetadata, type UiLinks, type WorkflowMetadata } from '../common/workflow-metadata';
import { experimentName, parentRunName, runName } from '../scenarios/naming';
import type { Scenario } from '../scenarios/schema';
import { datasetLabels, modelLabels } from './comparison-labels';
import { comparisonCurrentDetails } from './current-details';
import { reports, tracking } from './proxies';
import { endingRun, openRun } from './recorded-run';
import { markWorkflow } from './search-attributes';
import { singleRun, type SingleRunResult, type TrialOptions } from './single-run';
import { validScenario } from './valid-scenario';

export interface ComparisonInput {
  scenario: unknown;
  gpuHeartbeatTimeout?: Duration;
  /** The UIs the Web UI's details link to (from the starter's settings), handed on to the arms. */
  links?: UiLinks;
}

export interface ComparisonResult {
  experimentId: string;
  runId: string;
  runName: string;
  /** Runs compared (rows of `comparison.csv`). */
  rows: number;
  failed: number;
  best?: { runId: string; value: number; label: string };
}

/** One child run of a comparison: the scenario it runs and how it is labelled. */
interface Arm {
  scenario: Scenario;
  variable: string;
  value: string;
  tags?: Record<string, string>;
}

const DEFAULT_CALIBRATION = 300;

/**
 * Compares architectures (train or benchmark each), existing runs (read only), quantization
 * variants (original vs each export) or datasets (one model — or every listed model — on
 * each site's data). Each arm is a child `singleRun` nested under the parent run; the parent
 * gets `comparison.csv`, a chart and `comparison.best_run_id`.
 */
export async function comparison(input: ComparisonInput): Promise<ComparisonResult> {
  const scenario = validScenario(input.scenario, 'comparison');
  markWorkflow(scenario);
  const spec = scenario.comparison!;
  const arms = armsOf(scenario);
  const progress: BatchProgress = { phase: BatchPhase.starting, metric: spec.metric, total: arms.length || spec.run_ids!.length, running: 0, done: 0, failed: 0, stopped: 0 };
  setHandler(batchProgressQuery, () => progress);
  /** The best arm so far by the comparison's metric, for the Web UI's current details. */
  let leader: { label: string; value: number } | undefined;
  const showDetails = () => setCurrentDetails(comparisonCurrentDetails(progress, leader, input.links));
  const armEnded = (arm: Arm, index: number, result: SingleRunResult | undefined) => {
    const value = result?.metrics[spec.metric];
    if (value !== undefined && (leader === undefined || (spec.goal === 'minimize' ? value < leader.value : value > leader.value))) leader = { label: `arm ${index} (${arm.variable}=${arm.value})`, value };
    showDetails();
  };

  const name = parentRunName(scenario);
  const experimentId = await tracking.ensureExperiment({ name: experimentName(scenario) });
  const parent = await openRun({ scenario, experimentId, runName: name, trial: 'comparison', tags: { 'comparison.variable': variableOf(scenario), 'comparison.metric': spec.metric } });
  Object.assign(progress, { experimentId, runId: parent.runId, phase: BatchPhase.running });
  showDetails();

  try {
    return await endingRun(parent.runId, async () => {
      const results = await runArms(
        arms,
        spec.parallel,
        progress,
        (arm, index) => ({
          workflowId: `${workflowInfo().workflowId}/arm-${index}`,
          args: [{ scenario: arm.scenario, parentRunId: parent.runId, gpuHeartbeatTimeout: input.gpuHeartbeatTimeout, trial: armOptions(arm, index), links: input.links }],
          ...scenarioMetadata(arm.scenario, { links: input.links, role: `arm ${index} · ${arm.variable}=${arm.value}`, mlflow: { experimentId, runId: parent.runId, runLabel: 'parent run' } }),
        }),
        armEnded,
      );
      if (arms.length > 0 && results.every((r) => r === undefined)) {
        throw ApplicationFailure.create({ message: `every arm of the comparison failed (${arms.length})`, type: FailureType.TrialFailed, nonRetryable: true });
      }
      const variantRunIds = await labelVariantRuns(arms, results);
      progress.phase = BatchPhase.summarizing;
      showDetails();
      const report = await reports.comparisonReport.executeWithOptions({ summary: `comparison.csv and chart of ${arms.length || spec.run_ids!.length} runs` }, [{
        experimentId,
        parentRunId: parent.runId,
        artifactUri: parent.artifactUri,
        metric: spec.variants ? `quant.${spec.metric}` : spec.metric,
        goal: spec.goal,
        runIds: spec.run_ids ?? variantRunIds,
        title: `${name}: ${spec.metric} by ${variableOf(scenario)}`,
        chart: spec.datasets ? 'heatmap' : 'scatter',
      }]);
      await tracking.logBatch({
        runId: parent.runId,
        metrics: { 'comparison.rows': report.rows, 'comparison.failed': progress.failed, ...(report.best && { [`best.${spec.metric}`]: report.best.value }) },
        tags: report.best ? { 'comparison.best_run_id': report.best.runId, 'comparison.best': report.best.label } : {},
      });
      if (arms.length === 0) progress.done = report.rows;
      if (report.best) {
        progress.best = { index: -1, runId: report.best.runId, value: report.best.value, params: { [variableOf(scenario)]: report.best.label } };
        leader = { label: `${variableOf(scenario)}=${report.best.label}`, value: report.best.value };
      }
      progress.phase = BatchPhase.finished;
      showDetails();
      return { experimentId, runId: parent.runId, runName: name, rows: report.rows, failed: progress.failed, best: report.best };
    });
  } catch (err) {
    progress.phase = isCancellation(err) ? BatchPhase.cancelled : BatchPhase.failed;
    progress.error = err instanceof Error ? err.message : String(err);
    showDetails();
    throw err;
  }
}

/** Runs every arm as a child workflow, at most `parallel` at once; a failed arm is counted, not fatal. */
async function runArms(
  arms: Arm[],
  parallel: number,
  progress: BatchProgress,
  options: (arm: Arm, index: number) => WorkflowMetadata & { workflowId: string; args: Parameters<typeof singleRun> },
  ended: (arm: Arm, index: number, result: SingleRunResult | undefined) => void,
): Promise<(SingleRunResult | undefined)[]> {
  const results: (SingleRunResult | undefined)[] = arms.map(() => undefined);
  let next = 0;
  const lane = async () => {
    while (next < arms.length) {
      const index = next++;
      progress.running++;
      ended(arms[index], index, undefined);
      try {
        results[index] = await executeChild(singleRun, options(arms[index], index));
        progress.done++;
      } catch (err) {
        if (isCancellation(err) && CancellationScope.current().consideredCancelled) throw err;
        progress.failed++;
      } finally {
        progress.running--;
      }
      ended(arms[index], index, results[index]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, arms.length) }, lane));
  return results;
}

function armOptions(arm: Arm, index: number): TrialOptions {
  return {
    runName: `${runName(arm.scenario)}-${index}`,
    tags: { 'exp.design': 'comparison', 'comparison.variable': arm.variable, 'comparison.value': arm.value, ...arm.tags },
    register: false,
  };
}

/** A variants comparison compares the variant runs (grandchildren): label them like direct arms. */
async function labelVariantRuns(arms: Arm[], results: (SingleRunResult | undefined)[]): Promise<string[] | undefined> {
  const variants = results.flatMap((r) => r?.variants ?? []);
  if (variants.length === 0) return undefined;
  for (const v of variants) {
    await tracking.logBatch({ runId: v.runId, tags: { 'comparison.variable': 'quantization', 'comparison.value': `${v.variant.backend}_${v.variant.precision}` } });
  }
  return arms.length > 0 ? variants.map((v) => v.runId) : undefined;
}

function variableOf(scenario: Scenario): string {
  const c = scenario.comparison!;
  if (c.architectures) return 'architecture';
  if (c.run_ids) return 'run_id';
  if (c.variants) return 'quantization';
  return 'dataset';
}

/** The child runs a comparison starts (none for `run_ids`, which reads existing runs). */
function armsOf(scenario: Scenario): Arm[] {
  const c = scenario.comparison!;
  const base: Scenario = { ...scenario, design: 'single', comparison: undefined };
  if (c.architectures) {
    const labels = modelLabels(c.architectures);
    return c.architectures.map((architecture, i) => ({
      scenario: { ...base, model: { ...base.model, architecture, weights: scenario.type === 'infer' ? architecture : base.model.weights } },
      variable: 'architecture',
      value: labels[i],
    }));
  }
  if (c.variants) {
    const quantization = { calibration_size: DEFAULT_CALIBRATION, ...scenario.quantization, variants: c.variants };
    return [{ scenario: { ...base, type: 'quant', quantization }, variable: 'quantization', value: 'original' }];
  }
  if (c.datasets) {
    const models = c.models ?? [scenario.model.weights!];
    const rows = modelLabels(models);
    const columns = datasetLabels(c.datasets);
    return models.flatMap((weights, m) =>
      c.datasets!.map((dataset, d) => ({
        scenario: { ...base, type: 'infer' as const, dataset, model: { ...base.model, weights } },
        variable: 'dataset',
        value: columns[d],
        tags: { 'comparison.dataset': columns[d], 'comparison.model': rows[m] },
      })),
    );
  }
  return [];
}
