import { ApplicationFailure, executeChild, isCancellation } from '@temporalio/workflow';
import type { Duration } from '@temporalio/common';
import type { RegisteredModelRef } from '../common/contract';
import { scenarioMetadata, type UiLinks } from '../common/workflow-metadata';
import { runName } from '../scenarios/naming';
import { BenchmarkSchema, Design, ExperimentType, type QuantVariant, type Scenario } from '../scenarios/schema';
import { singleRun } from './single-run';

/** A model whose champion alias the pipeline moved: the trained model, or one of its variants. */
export interface PromotedChampion {
  model: RegisteredModelRef;
  variant?: QuantVariant;
}

/** The infer stage's benchmark of one champion: its run and metrics, or why it failed. */
export interface ChampionBenchmark extends PromotedChampion {
  /** The registered version measured, `models:/<name>/<version>` (the run's `model.source` tag). */
  modelSource: string;
  /** Set when the run finished; a failed run is the FAILED child of the parent with this `model.source`. */
  runId?: string;
  metrics?: Record<string, number>;
  /** The root cause of a failed benchmark (`{failure type}: {message}`). */
  error?: string;
}

export interface ChampionBenchmarksInput {
  scenario: Scenario;
  /** The pipeline's workflow id and MLflow run: each benchmark is a child of both. */
  workflowId: string;
  parentRunId: string;
  gpuHeartbeatTimeout?: Duration;
  champions: PromotedChampion[];
  /** The pipeline's experiment and UI links, for the benchmarks' Web UI details. */
  experimentId?: string;
  links?: UiLinks;
}

/** The benchmark settings of a pipeline scenario without a `benchmark:` block: the schema's defaults. */
const DEFAULT_BENCHMARK = BenchmarkSchema.parse({});

/**
 * The infer scenario that benchmarks one champion: the pipeline's site, task, data and benchmark
 * settings (with `benchmark.tracking`, so `mot.*` too), the registered version as the model, and
 * neither training nor quantization (their params would describe a job this run did not do).
 */
export function inferScenario(scenario: Scenario, modelSource: string): Scenario {
  return {
    ...scenario,
    type: ExperimentType.infer,
    design: Design.single,
    model: { ...scenario.model, weights: modelSource },
    benchmark: scenario.benchmark ?? DEFAULT_BENCHMARK,
    training: undefined,
    quantization: undefined,
    promotion: undefined,
  };
}

/**
 * The pipeline's infer stage: each champion it promoted is benchmarked by a child `singleRun`
 * (`{id}/infer`, `{id}/infer-{backend}_{precision}`) in its own MLflow run under the pipeline's,
 * tagged `exp.type=infer`, `exp.design=pipeline` and `model.source=models:/<name>/<version>`:
 * the fleet's latency and accuracy of a champion come from these runs. The version, not the
 * alias, is measured, so a later promotion cannot change what this run says it measured; the GPU
 * host resolves it (activities/gpu/model-source.ts).
 *
 * The champions are benchmarked side by side. A failed benchmark is reported, not thrown: the
 * alias moves it follows have happened and stay, and the pipeline's result and parent run say
 * which benchmark failed. A cancellation is thrown.
 */
export async function benchmarkChampions(input: ChampionBenchmarksInput): Promise<ChampionBenchmark[]> {
  const settled = await Promise.allSettled(input.champions.map((champion) => benchmarkChampion(input, champion)));
  const cancelled = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected' && isCancellation(s.reason));
  if (cancelled) throw cancelled.reason;
  return settled.map((s, i) => {
    if (s.status === 'fulfilled') return s.value;
    const champion = input.champions[i];
    return { ...champion, modelSource: modelSourceOf(champion.model), error: rootCause(s.reason) };
  });
}

async function benchmarkChampion(input: ChampionBenchmarksInput, champion: PromotedChampion): Promise<ChampionBenchmark> {
  const { variant } = champion;
  const modelSource = modelSourceOf(champion.model);
  const scenario = inferScenario(input.scenario, modelSource);
  const result = await executeChild(singleRun, {
    workflowId: `${input.workflowId}/infer${variant ? `-${variant.backend}_${variant.precision}` : ''}`,
    ...scenarioMetadata(scenario, { links: input.links, role: `pipeline stage infer ${modelSource}`, mlflow: { experimentId: input.experimentId, runId: input.parentRunId, runLabel: 'parent run' } }),
    args: [
      {
        scenario,
        parentRunId: input.parentRunId,
        gpuHeartbeatTimeout: input.gpuHeartbeatTimeout,
        trial: {
          runName: variant ? `${runName(scenario)}-${variant.backend}-${variant.precision}` : runName(scenario),
          tags: {
            'exp.design': Design.pipeline,
            'model.source': modelSource,
            ...(variant && { 'quant.backend': variant.backend, 'quant.precision': variant.precision }),
          },
          register: false,
        },
        links: input.links,
      },
    ],
  });
  return { ...champion, modelSource, runId: result.runId, metrics: result.metrics };
}

const modelSourceOf = (model: RegisteredModelRef) => `models:/${model.name}/${model.version}`;

/** The innermost cause of a child's failure, e.g. `InvalidScenario: models:/m/3: …`. */
function rootCause(err: unknown): string {
  let cause = err;
  while (cause instanceof Error && cause.cause instanceof Error) cause = cause.cause;
  if (!(cause instanceof Error)) return String(cause);
  return cause instanceof ApplicationFailure && cause.type ? `${cause.type}: ${cause.message}` : cause.message;
}
