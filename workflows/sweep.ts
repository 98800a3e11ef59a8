import {
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  condition,
  getExternalWorkflowHandle,
  isCancellation,
  makeContinueAsNewFunc,
  ParentClosePolicy,
  patched,
  setCurrentDetails,
  setHandler,
  startChild,
  workflowInfo,
  type ChildWorkflowHandle,
  type SignalDefinition,
} from '@temporalio/workflow';
import type { Duration } from '@temporalio/common';
import {
  BatchPhase,
  batchProgressQuery,
  earlyStopThresholdsSignal,
  gpuPermitSignal,
  gpuHoldSignal,
  gpuReleasedSignal,
  gpuSuccessorSignal,
  pauseSignal,
  resumeSignal,
  setMaxRunsUpdate,
  sweepTrialId,
  trialEndedSignal,
  type BatchProgress,
  type BestTrial,
  type RegisteredModelRef,
} from '../common/contract';
import { FailureType } from '../common/failure-types';
import { paramsLine, scenarioMetadata, type UiLinks } from '../common/workflow-metadata';
import { experimentName, parentRunName, runName } from '../scenarios/naming';
import { MAX_TPE_RUNS, SweepStrategy, type Scenario, type Sweep } from '../scenarios/schema';
import { TrialSeeding } from '../scenarios/search-space';
import { gridSize, isSampled, plannedRuns, searchSpace, trialCount, trialParams, trialScenario, type TrialParams } from '../scenarios/sweep-trials';
import type { SearchTrial } from '../activities/search/activities';
import { sweepCurrentDetails } from './current-details';
import { SweepSlots, type OpenSlotState } from './sweep-slots';
import { recordCompleted, thresholds, type EpochValues } from './early-stopping';
import { reports, search, tracking } from './proxies';
import { endRun, openRun } from './recorded-run';
import { markWorkflow } from './search-attributes';
import { singleRun, type SingleRunResult } from './single-run';
import { trialFailure, type TrialFailure, type TrialOutcome } from './trial-outcome';
import { registerTrained } from './stages/train-stage';
import { checkScenario } from '../scenarios/validate';
import { validScenario } from './valid-scenario';

export interface SweepInput {
  scenario: unknown;
  gpuHeartbeatTimeout?: Duration;
  /** The sweep so far, carried over continue-as-new; absent when a sweep starts. */
  state?: SweepState;
  /** Trials started per workflow run before it continues as new (default TRIALS_PER_RUN); tests and benches set it low. */
  trialsPerRun?: number;
  /** The UIs the Web UI's details link to (from the starter's settings), handed on to the trials. */
  links?: UiLinks;
}

/** Everything a sweep remembers: counters and the best trial, never a list of trials. */
export interface SweepState {
  experimentId: string;
  parentRunId: string;
  artifactUri: string;
  maxRuns: number;
  nextIndex: number;
  paused: boolean;
  done: number;
  failed: number;
  stopped: number;
  /** Trials cancelled (the sweep's cancel, fail_fast, a cancel of the trial itself): not failures. */
  cancelled: number;
  best?: BestTrial;
  bestModelSource?: string;
  /** Per reported epoch, the metric of recently completed trials (the early-stopping medians); bounded, see early-stopping.ts. */
  perEpoch: EpochValues;
  gpuSecondsSaved: number;
  /**
   * `tpe` sweeps only: every settled trial but the cancelled ones (parameters, metric, how it
   * ended), which the sampler rebuilds its model from at each ask; at most MAX_TPE_RUNS entries.
   */
  trials?: SearchTrial[];
  /** Trials still running when the previous run continued as new (at most 2 × parallel); they report their end by signal. */
  open?: OpenTrialState[];
  /** The sequence number of the sweep's last successor designation (RELAY_PATCH): a trial keeps the newest. */
  relaySeq?: number;
}

/** A running trial handed to the next run: its parameters, and whether it holds a GPU slot or waits for one (and its successor). */
export interface OpenTrialState extends OpenSlotState {
  params: TrialParams;
}

export interface SweepResult {
  experimentId: string;
  runId: string;
  runName: string;
  total: number;
  done: number;
  failed: number;
  stopped: number;
  cancelled: number;
  best?: BestTrial;
  model?: RegisteredModelRef;
  gpuSecondsSaved: number;
}

/**
 * The change that keeps GPU slots busy: trials prepared ahead, slots handed back before a trial's
 * bookkeeping, trials reporting their end by signal and handed over at continue-as-new instead of
 * drained. Sweeps recorded before it (test/histories/sweep-*.json) replay the old way.
 */
const ZERO_GAP_PATCH = 'sweep-zero-gap';

/**
 * A trial's job hands its slot straight to a waiting trial the sweep designated (SweepSlots), so
 * the sweep's workflow task is out of the gap between two jobs. Sweeps recorded before it never
 * designate, and their jobs hand the slot back to the sweep.
 */
const RELAY_PATCH = 'sweep-slot-relay';

/**
 * Grids run whole: from this change on, a grid with `max_runs` below its size is refused. A sweep
 * started before it (no marker of the change in its history), or continued as new from one, keeps
 * the part of its grid it started with, so it replays and goes on as it began.
 */
const WHOLE_GRID_PATCH = 'sweep-whole-grid';

/**
 * A random sweep with ranges seeds each trial's generator from its seed and index hashed together
 * (TrialSeeding.mixed). Such a sweep started before it keeps drawing its trials as it began, so
 * a replay gives back the parameters its trials ran with; a run continued as new draws mixed.
 * Only sampled sweeps ask, so no other sweep's history carries the marker.
 */
const MIXED_SEEDING_PATCH = 'sweep-mixed-seeding';

/** The sweep's scenario, checked again; a partial grid passes only for a sweep started before WHOLE_GRID_PATCH. */
function sweepScenario(input: SweepInput): Scenario {
  // a sweep started after the change cannot carry a partial grid into a continued run: it was refused at its start
  const startedBefore = input.state !== undefined || !patched(WHOLE_GRID_PATCH);
  const raw = input.scenario as { sweep?: Record<string, unknown> } | null;
  const maxRuns = raw?.sweep?.max_runs;
  if (!startedBefore || typeof maxRuns !== 'number' || checkScenario(raw).ok) return validScenario(raw, 'sweep');
  // checked without max_runs (what such a sweep fails now), then given it back
  const scenario = validScenario({ ...raw, sweep: { ...raw?.sweep, max_runs: undefined } }, 'sweep');
  return { ...scenario, sweep: { ...scenario.sweep!, max_runs: maxRuns } };
}

/** Trials started by one workflow run; then the sweep drains and continues as new, so its history stays short. */
export const TRIALS_PER_RUN = 200;

/**
 * A sweep is pinned to the build it runs on (the workers' default); its next run starts on the
 * deployment's current version, so a sweep of days moves to new code at its next continue-as-new
 * while the run in flight finishes on the code that began it (docs/architecture.md).
 */
function continueOnCurrentVersion(input: SweepInput): Promise<never> {
  // made when called: the SDK allows it only inside a workflow, and tests import this module's constants
  return makeContinueAsNewFunc<typeof sweep>({ initialVersioningBehavior: 'AUTO_UPGRADE' })(input);
}

/**
 * A hyper-parameter sweep: grid or seeded-random trials, at most `parallel` GPU jobs at once, each a
 * child `singleRun` (its own nested MLflow run) on the scenario's GPU pool. No GPU second waits
 * for bookkeeping: up to `parallel` more trials are prepared ahead (run opened, scenario uploaded)
 * and wait for a slot, and a trial hands its slot back as its job ends, before its uploads and
 * end of run — so a freed slot's next job is queued at once. Pause, resume,
 * a larger `max_runs` and cancel work while it runs; thousands of trials fit because the
 * workflow keeps counters only and continues as new every TRIALS_PER_RUN trials.
 */
export async function sweep(input: SweepInput): Promise<SweepResult> {
  const scenario = sweepScenario(input);
  markWorkflow(scenario);
  const spec = scenario.sweep!;
  const name = parentRunName(scenario);
  // handlers are set before the first await: an update that arrives while the parent run is
  // being opened would otherwise be refused for want of a handler
  const state = input.state ?? newSweepState(spec);
  const zeroGap = patched(ZERO_GAP_PATCH);
  const relay = zeroGap && patched(RELAY_PATCH);
  const seeding = isSampled(spec) && !patched(MIXED_SEEDING_PATCH) ? TrialSeeding.split : TrialSeeding.mixed;
  /** Model-based search: a trial's parameters come from `suggestTrials`, asked with every trial so far (no sweep recorded before it is `tpe`). */
  const tpe = spec.strategy === SweepStrategy.tpe;
  /** `tpe`: parameters asked for trials about to launch (one ask for all the trials launchable at once). */
  const suggested = new Map<number, TrialParams>();
  /** Trials not settled yet: started by this run (with a handle) or handed over by the run before (without). */
  const running = new Map<number, OpenTrial>();
  for (const trial of state.open ?? []) running.set(trial.index, { params: trial.params });
  const trials = new CancellationScope();
  let phase: BatchPhase = input.state ? BatchPhase.running : BatchPhase.starting;
  let failFast: string | undefined;
  /** Why this sweep starts no more trials (set once its loop ended for good): `set-max-runs` is refused from then on. */
  let closed: string | undefined;

  const total = () => trialCount(spec, state.maxRuns);
  const progressNow = (): BatchProgress => ({
    phase: state.paused && phase === BatchPhase.running ? BatchPhase.paused : phase,
    experimentId: state.experimentId || undefined,
    runId: state.parentRunId || undefined,
    metric: spec.metric,
    total: total(),
    running: zeroGap ? gpu.busy.size : running.size,
    ...(zeroGap && { queued: gpu.queued }),
    done: state.done,
    failed: state.failed,
    stopped: state.stopped,
    cancelled: state.cancelled,
    best: state.best,
  });
  setHandler(batchProgressQuery, progressNow);
  /** The Web UI's current details, rebuilt whenever a count, the phase or the best trial changes. */
  const showDetails = () => setCurrentDetails(sweepCurrentDetails(progressNow(), state.nextIndex, input.links));
  const trialId = (index: number) => sweepTrialId(workflowInfo().workflowId, index);
  /** Signals a trial: by id (it may have been started by an earlier run of this sweep), or by handle as sweeps before ZERO_GAP_PATCH did. */
  let signalsInFlight = 0;
  const signalTrial = <A extends unknown[]>(index: number, signal: SignalDefinition<A>, ...args: A) => {
    const handle = zeroGap ? getExternalWorkflowHandle(trialId(index)) : running.get(index)?.handle;
    if (!handle) return;
    // counted until Temporal confirms it: a signal still being sent when the run continues as new is lost
    signalsInFlight++;
    void handle
      .signal(signal, ...args)
      .catch(() => undefined)
      .finally(() => signalsInFlight--);
  };
  /** Numbers each designation and hold, across runs: a trial keeps the newest of each. */
  const nextRelaySeq = () => (state.relaySeq = (state.relaySeq ?? 0) + 1);
  /** The `parallel` GPU slots; a paused sweep starts no GPU job. */
  const gpu = new SweepSlots(spec.parallel, relay, () => state.paused, {
    permit: (index) => signalTrial(index, gpuPermitSignal),
    designate: (holder, successor) => signalTrial(holder, gpuSuccessorSignal, { index: successor, seq: nextRelaySeq() }),
    hold: (index, held) => signalTrial(index, gpuHoldSignal, { held, seq: nextRelaySeq() }),
  }, state.open);
  // trials handed over by a run before RELAY_PATCH get their successors now
  gpu.designate();
  /** A trial's job ended (its signal, maybe naming the trial it handed the slot to) or the trial did: either frees its slot, once. */
  const releaseSlot = (index: number, handedTo?: number) => {
    gpu.release(index, handedTo);
    showDetails();
  };
  setHandler(pauseSignal, () => {
    state.paused = true;
    gpu.pause();
    showDetails();
  });
  setHandler(resumeSignal, () => {
    state.paused = false;
    gpu.resume();
    showDetails();
  });
  setHandler(gpuReleasedSignal, releaseSlot);
  setHandler(
    setMaxRunsUpdate,
    (maxRuns) => {
      state.maxRuns = maxRuns;
      showDetails();
      return total();
    },
    {
      validator: (maxRuns) => {
        if (closed !== undefined) throw new Error(`max_runs can no longer change: the sweep ${closed} and starts no more trials`);
        if (tpe && maxRuns > MAX_TPE_RUNS) throw new Error(`max_runs of a tpe sweep is at most ${MAX_TPE_RUNS}, got ${maxRuns}`);
        if (!Number.isInteger(maxRuns) || maxRuns < state.maxRuns) throw new Error(`max_runs can only be raised: it is ${state.maxRuns}, got ${maxRuns}`);
      },
    },
  );

  const onCompleted = (index: number, params: TrialParams, result: SingleRunResult) => {
    if (result.stoppedEarly) {
      state.stopped++;
      state.gpuSecondsSaved += result.stoppedEarly.gpuSecondsSaved;
      // ASHA's rungs count the trials stopped there too (Optuna's SuccessiveHalvingPruner does); the median rule, completed ones only
      if (spec.early_stopping?.rule === 'asha' && result.history) state.perEpoch = recordCompleted(state.perEpoch, result.history);
    } else {
      state.done++;
      const value = result.metrics[spec.metric];
      if (value !== undefined && isBetter(spec.goal, value, state.best?.value)) {
        state.best = { index, runId: result.runId, value, params };
        state.bestModelSource = result.modelSource;
      }
      if (result.history) state.perEpoch = recordCompleted(state.perEpoch, result.history);
    }
    const medians = thresholds(spec, state.perEpoch);
    if (medians) for (const open of running.keys()) signalTrial(open, earlyStopThresholdsSignal, medians);
  };
  const onFailed = (index: number, failure: TrialFailure) => {
    if (failure.cancelled) {
      state.cancelled++;
      return;
    }
    state.failed++;
    if (spec.fail_fast && failFast === undefined) {
      failFast = `trial ${index} failed: ${failure.message}`;
      trials.cancel();
      cancelHandedOver();
    }
  };
  /** Cancels the trials an earlier run handed over (those of this run go with their cancellation scope). */
  const cancelHandedOver = () => {
    for (const [index, trial] of running) if (!trial.handle) void getExternalWorkflowHandle(trialId(index)).cancel().catch(() => undefined);
  };
  /** `tpe`: what the sampler learns from a settled trial; a cancelled one tells nothing about its parameters. */
  const recordSearchTrial = (params: TrialParams, outcome: TrialOutcome) => {
    if ('failure' in outcome && outcome.failure.cancelled) return;
    const value = 'result' in outcome ? (outcome.result.metrics[spec.metric] ?? null) : null;
    const ended: SearchTrial['state'] = 'failure' in outcome || value === null ? 'fail' : outcome.result.stoppedEarly ? 'pruned' : 'complete';
    (state.trials ??= []).push({ params, value, state: ended });
  };
  /** A trial's end, from its result or (ZERO_GAP_PATCH) its `trialEnded` signal, whichever comes first; counted once. */
  const settle = (index: number, outcome: TrialOutcome) => {
    const trial = running.get(index);
    if (!trial) return;
    if (tpe) recordSearchTrial(trial.params, outcome);
    // counted while still open, as sweeps before ZERO_GAP_PATCH did (their histories replay that way)
    if ('result' in outcome) onCompleted(index, trial.params, outcome.result);
    else onFailed(index, outcome.failure);
    running.delete(index);
    releaseSlot(index);
  };
  // set after everything settle() uses: a run that took over trials gets their buffered `trialEnded` signals right here
  setHandler(trialEndedSignal, (ended) => settle(ended.index, ended.outcome));

  /**
   * `tpe`: the parameters of trial `index`. The first ask asks for every trial launchable now, so
   * prepared-ahead trials cost one activity; running trials go in as running (Optuna's
   * constant liar keeps new suggestions away from them). Same input, same answer: a retried ask
   * returns the trials the first attempt did.
   */
  const suggestion = async (index: number): Promise<TrialParams> => {
    if (!suggested.has(index)) {
      const count = Math.max(1, Math.min(open - running.size, total() - index, trialsPerRun - launchedHere));
      const runningTrials = [...running.values()].map((t): SearchTrial => ({ params: t.params, value: null, state: 'running' }));
      const asked = await search.suggestTrials({ space: searchSpace(spec), seed: spec.seed, firstIndex: index, goal: spec.goal, count, trials: [...(state.trials ?? []), ...runningTrials] });
      asked.forEach((params, i) => suggested.set(index + i, params));
    }
    const params = suggested.get(index)!;
    suggested.delete(index);
    return params;
  };

  const launch = async (index: number) => {
    const params = tpe ? await suggestion(index) : trialParams(spec, index, seeding);
    const trial = trialOf(scenario, params, index);
    const granted = !zeroGap || gpu.hasFree();
    if (zeroGap && granted) gpu.take(index);
    const options = { ...trialOptions(trial, spec, params, index, state), ...(zeroGap && { gpuSlot: { index, granted } }) };
    const handle = await trials.run(() =>
      startChild(singleRun, {
        workflowId: trialId(index),
        args: [{ scenario: trial, parentRunId: state.parentRunId, gpuHeartbeatTimeout: input.gpuHeartbeatTimeout, trial: options, links: input.links }],
        ...scenarioMetadata(trial, { links: input.links, role: `trial ${index} · ${paramsLine(params)}`, mlflow: { experimentId: state.experimentId, runId: state.parentRunId, runLabel: 'parent run' } }),
        // a trial outlives the run that started it: the next run of this sweep hears of its end by signal
        ...(zeroGap && { parentClosePolicy: ParentClosePolicy.ABANDON }),
      }),
    );
    running.set(index, { params, handle });
    showDetails();
    if (!granted) {
      // queued only now that the trial exists, so the permit of a slot freed meanwhile reaches it
      gpu.enqueue(index);
      showDetails();
    }
    void handle.result().then(
      (result) => settle(index, { result }),
      (err: unknown) => settle(index, { failure: trialFailure(err) }),
    );
  };

  if (!input.state) {
    Object.assign(state, await openSweep(scenario, name));
    phase = BatchPhase.running;
  }
  showDetails();

  let launchedHere = 0;
  const remaining = () => state.nextIndex < total();
  const trialsPerRun = input.trialsPerRun ?? TRIALS_PER_RUN;
  const rotate = () => launchedHere >= trialsPerRun || workflowInfo().continueAsNewSuggested;
  // prepared trials wait for a slot: as many as the slots, so slots freed together each find one
  const open = zeroGap ? 2 * spec.parallel : spec.parallel;
  /** RELAY_PATCH (grid and random sweeps): trials start together, not one child start after another; counted while their start is under way. */
  const together = relay && !tpe;
  let starting = 0;
  let launchFailure: Error | undefined;
  /** Read through a call: a launch's callback sets it, which narrowing cannot see. */
  const failedLaunch = (): Error | undefined => launchFailure;
  const openCount = () => running.size + starting;
  const canLaunch = () => remaining() && !rotate() && !state.paused && openCount() < open;
  // ZERO_GAP_PATCH: a run that has started its share hands its open trials to the next run instead of draining them
  const handOver = () => zeroGap && remaining() && rotate();
  try {
    for (;;) {
      await condition(() => failedLaunch() !== undefined || failFast !== undefined || canLaunch() || handOver() || (openCount() === 0 && (!remaining() || rotate())));
      const failed = failedLaunch();
      if (failed) throw failed;
      if (failFast !== undefined || !canLaunch()) break;
      if (together) {
        starting++;
        void launch(state.nextIndex++).then(
          () => starting--,
          (err: unknown) => {
            starting--;
            launchFailure ??= err instanceof Error ? err : new Error(String(err));
          },
        );
      } else await launch(state.nextIndex++);
      launchedHere++;
    }
    if (failFast !== undefined) closed = 'is stopping after a failed trial (fail_fast)';
    else if (!remaining()) closed = 'has started all its trials';
    if (together) {
      await condition(() => starting === 0);
      const failed = failedLaunch();
      if (failed) throw failed;
    }
    if (!handOver() || failFast !== undefined) await condition(() => running.size === 0);
    if (failFast !== undefined) {
      throw ApplicationFailure.create({ message: `sweep stopped (fail_fast): ${failFast}`, type: FailureType.TrialFailed, nonRetryable: true });
    }
  } catch (err) {
    phase = isCancellation(err) ? BatchPhase.cancelled : BatchPhase.failed;
    closed ??= `was ${phase}`;
    showDetails();
    await CancellationScope.nonCancellable(async () => {
      if (isCancellation(err)) cancelHandedOver();
      await condition(() => openCount() === 0);
      await tracking.logBatch.executeWithOptions({ summary: 'record the sweep counters on the parent run' }, [{ runId: state.parentRunId, metrics: counters(state) }]);
      await endRun(state.parentRunId, isCancellation(err) ? 'KILLED' : 'FAILED');
    });
    throw err;
  }

  // an update or signal accepted so far is applied to the state this run hands on or reports, and
  // the permits and thresholds it sent have reached their trials
  await condition(() => allHandlersFinished() && (!zeroGap || signalsInFlight === 0));
  if (remaining()) {
    const handed = [...running.keys()].map((index): OpenTrialState => ({ params: running.get(index)!.params, ...gpu.openState(index) }));
    return continueOnCurrentVersion({ ...input, state: { ...state, ...(zeroGap && { open: handed }) } });
  }
  closed ??= 'has started all its trials';
  phase = BatchPhase.summarizing;
  showDetails();
  const model = await finish(scenario, state, total(), relay);
  phase = BatchPhase.finished;
  showDetails();
  await condition(allHandlersFinished);
  return {
    experimentId: state.experimentId,
    runId: state.parentRunId,
    runName: name,
    total: total(),
    done: state.done,
    failed: state.failed,
    stopped: state.stopped,
    cancelled: state.cancelled,
    best: state.best,
    model,
    gpuSecondsSaved: state.gpuSecondsSaved,
  };
}

/** A trial not settled yet, as this run knows it. */
interface OpenTrial {
  params: TrialParams;
  /** Absent for a trial handed over by an earlier run of the sweep. */
  handle?: ChildWorkflowHandle<typeof singleRun>;
}

/** A new sweep's state; its parent run's ids are empty until `openSweep` fills them in. */
function newSweepState(spec: Sweep): SweepState {
  return { experimentId: '', parentRunId: '', artifactUri: '', maxRuns: plannedRuns(spec), nextIndex: 0, paused: false, done: 0, failed: 0, stopped: 0, cancelled: 0, perEpoch: {}, gpuSecondsSaved: 0 };
}

/** The sweep's parent MLflow run (found again on a retry, by its run key). */
async function openSweep(scenario: Scenario, name: string): Promise<Pick<SweepState, 'experimentId' | 'parentRunId' | 'artifactUri'>> {
  const spec = scenario.sweep!;
  const trials = trialCount(spec, plannedRuns(spec));
  const experimentId = await tracking.ensureExperiment({ name: experimentName(scenario) });
  const run = await openRun({
    scenario,
    experimentId,
    runName: name,
    trial: 'sweep',
    tags: { 'sweep.strategy': spec.strategy, 'sweep.total_runs': String(trials), 'sweep.metric': spec.metric, 'sweep.goal': spec.goal },
    // the space and what the sweep makes of it: its combinations (`Infinity` with a continuous range) and the trials it plans
    params: {
      'sweep.parameters': JSON.stringify(spec.parameters),
      'sweep.max_runs': String(plannedRuns(spec)),
      'sweep.combinations': String(gridSize(spec)),
      'sweep.trials': String(trials),
      'sweep.parallel': String(spec.parallel),
      'sweep.seed': String(spec.seed),
    },
  });
  return { experimentId, parentRunId: run.runId, artifactUri: run.artifactUri };
}

function trialOf(scenario: Scenario, params: TrialParams, index: number): Scenario {
  try {
    return trialScenario(scenario, params);
  } catch (err) {
    throw ApplicationFailure.create({ message: `sweep trial ${index} (${JSON.stringify(params)}) is not a valid scenario: ${String(err)}`, type: FailureType.InvalidScenario, nonRetryable: true });
  }
}

function trialOptions(trial: Scenario, spec: Sweep, params: TrialParams, index: number, state: SweepState) {
  return {
    runName: runName(trial, index),
    tags: { 'exp.design': 'sweep', 'sweep.index': String(index), 'sweep.strategy': spec.strategy },
    params: Object.fromEntries(Object.entries(params).map(([k, v]) => [k, String(v)])),
    register: false,
    metric: spec.metric,
    earlyStopping: thresholds(spec, state.perEpoch),
  };
}

function isBetter(goal: 'maximize' | 'minimize', value: number, best: number | undefined): boolean {
  return best === undefined || (goal === 'maximize' ? value > best : value < best);
}

function counters(state: SweepState): Record<string, number> {
  return { 'sweep.completed': state.done, 'sweep.failed': state.failed, 'sweep.stopped_early': state.stopped, 'sweep.cancelled': state.cancelled, 'sweep.gpu_seconds_saved': state.gpuSecondsSaved };
}

/** Best trial on the parent run, its weights registered as candidate, results table and chart, run FINISHED. */
async function finish(scenario: Scenario, state: SweepState, total: number, together: boolean): Promise<RegisteredModelRef | undefined> {
  const spec = scenario.sweep!;
  const { best } = state;
  const register = async () => (best && state.bestModelSource && scenario.register ? await registerTrained(scenario, best.runId, state.bestModelSource) : undefined);
  const report = () =>
    reports.sweepReport.executeWithOptions({ summary: `results.csv and sweep_chart.png of ${total} trials` }, [{
      experimentId: state.experimentId,
      parentRunId: state.parentRunId,
      artifactUri: state.artifactUri,
      metric: spec.metric,
      goal: spec.goal,
      parameters: Object.keys(spec.parameters),
      bestRunId: best?.runId,
      title: `${parentRunName(scenario)}: ${spec.metric} per trial`,
    }]);
  const record = (model: RegisteredModelRef | undefined) =>
    tracking.logBatch.executeWithOptions({ summary: `record the best trial${best ? ` (${best.index})` : ''} and counters on the parent run` }, [{
      runId: state.parentRunId,
      metrics: { ...counters(state), ...(best && { [`best.${spec.metric}`]: best.value }) },
      tags: {
        'sweep.total_runs': String(total),
        ...(best && { 'best.run_id': best.runId, 'best.params': JSON.stringify(best.params), 'best.index': String(best.index) }),
        ...(model && { 'best.model': `${model.name}@v${model.version}` }),
      },
    }]);
  let model: RegisteredModelRef | undefined;
  if (together) {
    // RELAY_PATCH: the report (a chart in Python, the longest) beside the registration and the record
    [, model] = await Promise.all([
      report(),
      register().then(async (registered) => {
        await record(registered);
        return registered;
      }),
    ]);
  } else {
    model = await register();
    await report();
    await record(model);
  }
  await endRun(state.parentRunId, 'FINISHED');
  return model;
}
