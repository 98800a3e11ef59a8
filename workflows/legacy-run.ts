import { ActivityCancellationType, ApplicationFailure, isCancellation, patched, proxyActivities, upsertSearchAttributes, setHandler, workflowInfo } from '@temporalio/workflow';
import type { Duration } from '@temporalio/common';
import type { createLegacyActivities, LegacyScriptResult } from '../activities/legacy/activities';
import { LegacyPhase, SearchAttr, gpuPoolQueue, legacyProgressQuery, type LegacyRunProgress, type RegisteredModelRef } from '../common/contract';
import { FailureType, NON_RETRYABLE_FAILURES } from '../common/failure-types';
import { Alias } from '../common/registry';
import { exportedModels } from '../legacy/exports';
import { legacyExperimentName, legacyModelName, legacyVariantModelName, planWrap, WrapRequestSchema, wrappedRunName, type WrapPlan, type WrapRequest } from '../legacy/wrap-request';
import type { QuantVariant } from '../scenarios/schema';
import { runKey } from '../scenarios/naming';
import { checkAgainst, type ScenarioIssue } from '../scenarios/validate';
import { hostStorage, tracking } from './proxies';
import { endingRun } from './recorded-run';

export interface LegacyRunResult {
  experimentId: string;
  runId: string;
  runName: string;
  script: string;
  exitCode: number | null;
  metrics: Record<string, number>;
  /** Collected files not uploaded: over the entry's size cap. */
  notUploaded: string[];
  model?: RegisteredModelRef;
  /** Exported files registered as `…__{backend}_{precision}` (none with `--no-register`). */
  variants?: { variant: QuantVariant; model: RegisteredModelRef }[];
}

/** Registering the exported files as variants added commands after the weights' registration: histories from before lack them. */
const LEGACY_VARIANTS_PATCH = 'legacy-variants';

/** The design word of wrapped runs (tag `exp.design`, search attribute `GfDesign`). */
const LEGACY_DESIGN = 'legacy';

/**
 * The script runs once: a legacy script is not known to be safe to run twice (it may append to
 * its own files), so a lost host fails the run instead of starting the script again elsewhere.
 */
function legacyJobs(pool: string, heartbeatTimeout: Duration) {
  return proxyActivities<ReturnType<typeof createLegacyActivities>>({
    taskQueue: gpuPoolQueue(pool),
    startToCloseTimeout: '72h',
    heartbeatTimeout,
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry: { maximumAttempts: 1, nonRetryableErrorTypes: NON_RETRYABLE_FAILURES },
  });
}

/**
 * One unmodified site script from experiments.yaml, run on its site's GPU pool and recorded as one
 * MLflow run tagged `source.wrapped=true` in the site's experiment: its output as `logs/`, the
 * files it wrote, its metrics, and its weights registered `@candidate` like a native run's. The
 * input is checked before any run exists; the run always ends FINISHED, FAILED or KILLED.
 */
export async function legacyRun(input: unknown): Promise<LegacyRunResult> {
  const plan = validPlan(input);
  const { request } = plan;
  const { entry } = request;
  const progress: LegacyRunProgress = { phase: LegacyPhase.starting, entry: request.name };
  setHandler(legacyProgressQuery, () => progress);
  upsertSearchAttributes([
    { key: SearchAttr.site, value: legacyExperimentName(entry) },
    { key: SearchAttr.task, value: entry.task.type },
    { key: SearchAttr.design, value: LEGACY_DESIGN },
    { key: SearchAttr.type, value: request.type },
  ]);

  const info = workflowInfo();
  const name = wrappedRunName(request);
  const sourceRunId = request.params.source_run ?? request.sourceRunId;
  try {
    const experimentId = await tracking.ensureExperiment({ name: legacyExperimentName(entry) });
    const run = await tracking.createRun({
      experimentId,
      runName: name,
      runKey: runKey(info.workflowId, info.firstExecutionRunId, 'main'),
      tags: {
        'site.customer': entry.site.customer,
        'site.region': entry.site.region,
        'site.plant': entry.site.plant,
        'site.zone': entry.site.zone,
        'site.experiment': legacyExperimentName(entry),
        'task.type': entry.task.type,
        ...(entry.task.classes.length > 0 && { 'task.classes': entry.task.classes.join(','), 'task.num_classes': String(entry.task.classes.length) }),
        'exp.name': request.name,
        'exp.type': request.type,
        'exp.design': LEGACY_DESIGN,
        'exp.version': request.version,
        'source.wrapped': 'true',
        'legacy.path': entry.path,
        ...(sourceRunId && { 'source.run_id': sourceRunId }),
        'gf.workflow_id': info.workflowId,
        'gf.temporal_run_id': info.firstExecutionRunId,
      },
      params: Object.fromEntries(Object.entries(request.params).map(([k, v]) => [`wrap.${k}`, v])),
    });
    Object.assign(progress, { experimentId, runId: run.runId });

    const result = await endingRun(run.runId, async (): Promise<LegacyRunResult> => {
      progress.phase = LegacyPhase.running;
      const ran = await legacyJobs(entry.gpu_pool, (request.gpuHeartbeatTimeout as Duration | undefined) ?? '2m').runLegacyScript({ runId: run.runId, artifactUri: run.artifactUri, plan });
      Object.assign(progress, { phase: LegacyPhase.recording, script: ran.script, exitCode: ran.exitCode });
      await hostStorage(ran.hostQueue).uploadArtifacts({ artifactUri: run.artifactUri, files: ran.files });
      const notUploaded = ran.collected.filter((f) => !f.uploaded).map((f) => f.path);
      await tracking.logBatch({
        runId: run.runId,
        metrics: { ...(ran.exitCode !== null && { 'legacy.exit_code': ran.exitCode }), 'legacy.files_collected': ran.collected.length, 'legacy.files_not_uploaded': notUploaded.length },
        tags: {
          // ultralytics' MLflow callback renames the run it joins (to its own `name`, e.g. `train`): the wrapped run keeps ours
          'mlflow.runName': name,
          'legacy.script': ran.script,
          'legacy.argv': clipped(JSON.stringify(ran.args)),
          'legacy.exit': ran.exitCode === null ? `signal ${ran.signal}` : String(ran.exitCode),
          ...(ran.python && { 'legacy.python': ran.python.path, 'legacy.python_source': ran.python.source }),
        },
      });
      if (ran.exitCode !== 0) throw scriptFailed(ran);

      const base = { experimentId, runId: run.runId, runName: name, script: ran.script, exitCode: ran.exitCode, metrics: ran.metrics, notUploaded };
      const exports = exportedModels(ran.collected, (request.params.precision as QuantVariant['precision'] | undefined) ?? entry.entry_points[request.type]?.precision);
      if (!request.register || (!ran.model && exports.length === 0)) return base;
      progress.phase = LegacyPhase.registering;
      const versionTags = { 'exp.type': request.type, 'source.wrapped': 'true', 'legacy.entry': request.name };
      let model: RegisteredModelRef | undefined;
      if (ran.model) {
        model = await tracking.registerModel({ name: legacyModelName(entry), runId: run.runId, source: `${run.artifactUri}/${ran.model}`, alias: Alias.candidate, tags: versionTags });
        progress.model = model;
      }
      if (exports.length === 0 || !patched(LEGACY_VARIANTS_PATCH)) return { ...base, model };
      // lineage as the quantize stage writes it: the training run the exports come from, this run when it trained
      const lineage = variantLineage(request, sourceRunId, run.runId, ran.model);
      const variants = [];
      for (const exported of exports) {
        const { variant } = exported;
        const registered = await tracking.registerModel({
          name: legacyVariantModelName(entry, variant),
          runId: run.runId,
          source: `${run.artifactUri}/${exported.artifactPath}`,
          alias: Alias.candidate,
          tags: { ...versionTags, ...lineage, 'quant.backend': variant.backend, 'quant.precision': variant.precision },
        });
        variants.push({ variant, model: registered });
      }
      return { ...base, model, variants };
    });
    progress.phase = LegacyPhase.finished;
    return result;
  } catch (err) {
    progress.phase = isCancellation(err) ? LegacyPhase.cancelled : LegacyPhase.failed;
    progress.error = err instanceof Error ? err.message : String(err);
    throw err;
  }
}

/**
 * The quantize stage's lineage tags (`source.run_id`, `source.model`) for the exports of a wrapped
 * run: `-p source_run` or the run `gflow wrap` found, else this run itself when it trained (its
 * weights are the source); nothing when unknown.
 */
function variantLineage(request: WrapRequest, sourceRunId: string | undefined, runId: string, weights: string | undefined): Record<string, string> {
  if (sourceRunId) return { 'source.run_id': sourceRunId };
  if (request.type !== 'train') return {};
  return { 'source.run_id': runId, ...(weights && { 'source.model': `runs:/${runId}/${weights}` }) };
}

/** The input checked as the CLI checks it: a bad entry fails here, before any run or process exists. */
function validPlan(input: unknown): WrapPlan {
  const checked = checkAgainst(WrapRequestSchema, input);
  if (!checked.ok) throw invalidEntry(checked.issues);
  const planned = planWrap(checked.value);
  if (!planned.ok) throw invalidEntry(planned.issues.map((i) => ({ ...i, path: `entry.${i.path}` })));
  return planned.plan;
}

function invalidEntry(issues: ScenarioIssue[]): ApplicationFailure {
  return ApplicationFailure.create({
    message: `invalid legacyRun input\n${issues.map((i) => `  - ${i.path || '(input)'}: ${i.message}`).join('\n')}`,
    type: FailureType.InvalidExperimentEntry,
    nonRetryable: true,
  });
}

/** MLflow refuses tag values over 8,000 characters; an argv that long is in the log anyway. */
const TAG_VALUE_LIMIT = 8000;

function clipped(value: string): string {
  return value.length <= TAG_VALUE_LIMIT ? value : `${value.slice(0, TAG_VALUE_LIMIT - 1)}…`;
}

/** A non-zero exit: the run ends FAILED with the script's last stderr lines (a traceback) in the message. */
function scriptFailed(ran: LegacyScriptResult): ApplicationFailure {
  const how = ran.exitCode === null ? `was killed by ${ran.signal}` : `exited with code ${ran.exitCode}`;
  return ApplicationFailure.create({
    message: `${ran.script} ${how}${ran.stderrTail ? `; last stderr lines:\n${ran.stderrTail}` : ''}`,
    type: FailureType.ScriptFailed,
    nonRetryable: true,
  });
}
