import { request } from 'undici';
import type { Secret } from '../../common/secret';
import type { Settings } from '../../common/settings';
import type { z } from 'zod';
import { Responses, type Experiment, type KeyValue, type Metric, type ModelVersion, type RegisteredModel, type Run, type RunInfo, type RunStatus } from './mlflow-responses';

/** An MLflow REST answer other than 2xx; `retryable` tells transient (5xx, 429) from refused. */
export class MlflowApiError extends Error {
  constructor(
    readonly endpoint: string,
    readonly status: number,
    readonly errorCode: string | undefined,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`MLflow ${endpoint}: HTTP ${status}${errorCode ? ` ${errorCode}` : ''}: ${detail}`, options);
    this.name = 'MlflowApiError';
  }

  get retryable(): boolean {
    return this.status >= 500 || this.status === 429;
  }
}

/** A 2xx answer whose body is not what the endpoint returns: another server or version; a retry gets the same. */
export class MlflowResponseError extends MlflowApiError {
  constructor(endpoint: string, status: number, problem: string) {
    super(endpoint, status, 'UNEXPECTED_RESPONSE', problem);
    this.name = 'MlflowResponseError';
  }

  override get retryable(): boolean {
    return false;
  }
}

/** MLflow could not be reached at all (connection refused, reset, timeout). */
export class MlflowUnreachableError extends Error {
  constructor(endpoint: string, options: { cause: unknown }) {
    super(`MLflow ${endpoint}: unreachable (${String((options.cause as Error)?.message ?? options.cause)})`, options);
    this.name = 'MlflowUnreachableError';
  }
}

export { RunStatus, type Experiment, type KeyValue, type Metric, type ModelVersion, type RegisteredModel, type Run, type RunInfo } from './mlflow-responses';

/** One dataset input of `runs/log-inputs`: MLflow keeps `digest` to 36 characters, `source` to 64 KB. */
export interface DatasetInput {
  dataset: { name: string; digest: string; source_type: string; source: string; schema?: string; profile?: string };
  /** `mlflow.data.context`: training, evaluation, … */
  tags: KeyValue[];
}

/** Which runs or experiments a search sees: deleted ones are left out unless asked. */
export type ViewType = 'ACTIVE_ONLY' | 'DELETED_ONLY' | 'ALL';

/** Thrown for a value that cannot be put into an MLflow search filter. */
export class FilterValueError extends Error {
  constructor(value: string) {
    super(`a quote cannot be used in an MLflow search filter: ${value}`);
    this.name = 'FilterValueError';
  }
}

/** A string literal for MLflow's search filters; values with quotes are refused, not escaped. */
export function filterLiteral(value: string): string {
  if (value.includes("'")) throw new FilterValueError(value);
  return `'${value}'`;
}

const NOT_FOUND = 'RESOURCE_DOES_NOT_EXIST';
const ALREADY_EXISTS = 'RESOURCE_ALREADY_EXISTS';

/** MLflow answers an alias that is not set on an existing model with 400 INVALID_PARAMETER_VALUE, not 404. */
function unlessAliasMissing(err: unknown): undefined {
  if (err instanceof MlflowApiError && err.errorCode === 'INVALID_PARAMETER_VALUE' && /alias .* not found/i.test(err.message)) return undefined;
  throw err;
}

/**
 * A thin typed client over MLflow's REST API (`/api/2.0/mlflow`). No retries here: activities are
 * retried by Temporal, and every write below is made idempotent by its caller.
 */
export class MlflowClient {
  constructor(
    readonly baseUrl: string,
    private readonly timeoutMs = 30_000,
    /** Sent as `Authorization` on every request (settings.mlflow.authorization); never logged. */
    private readonly authorization?: Secret,
  ) {}

  async getExperimentByName(name: string): Promise<Experiment | undefined> {
    const res = await this.call(Responses.experiment, 'GET', 'experiments/get-by-name', { experiment_name: name }, [NOT_FOUND]);
    return res?.experiment;
  }

  /** Returns the id, whether it was created now or already existed (a concurrent creator may win). */
  async ensureExperiment(name: string, tags: KeyValue[] = []): Promise<string> {
    const existing = await this.getExperimentByName(name);
    if (existing) return existing.experiment_id;
    const created = await this.call(Responses.experimentCreated, 'POST', 'experiments/create', { name, tags }, [ALREADY_EXISTS]);
    if (created) return created.experiment_id;
    const raced = await this.getExperimentByName(name);
    if (!raced) throw new MlflowApiError('experiments/create', 409, ALREADY_EXISTS, `experiment ${name} exists but cannot be read`);
    return raced.experiment_id;
  }

  async createRun(args: { experimentId: string; runName: string; tags: KeyValue[]; startTime?: number }): Promise<RunInfo> {
    const res = await this.call(Responses.run, 'POST', 'runs/create', {
      experiment_id: args.experimentId,
      run_name: args.runName,
      start_time: args.startTime ?? Date.now(),
      tags: args.tags,
    });
    return res!.run.info;
  }

  async getRun(runId: string): Promise<Run> {
    const res = await this.call(Responses.run, 'GET', 'runs/get', { run_id: runId });
    return res!.run;
  }

  /** Every run matching the search, all pages read (or the first `maxResults`). */
  async searchRuns(args: { experimentIds: string[]; filter?: string; maxResults?: number; orderBy?: string[] }): Promise<Run[]> {
    const runs: Run[] = [];
    let pageToken: string | undefined;
    do {
      const page = await this.searchRunsPage({ ...args, maxResults: Math.min(args.maxResults ?? 1000, 1000), pageToken, runViewType: 'ALL' });
      runs.push(...page.runs);
      pageToken = page.nextPageToken;
    } while (pageToken && runs.length < (args.maxResults ?? Infinity));
    return runs;
  }

  /**
   * One page of a run search, for readers that pace themselves (the fleet store): pass the
   * answer's `nextPageToken` back to get the next page; none means the last page was read.
   */
  async searchRunsPage(args: {
    experimentIds: string[];
    filter?: string;
    maxResults?: number;
    orderBy?: string[];
    pageToken?: string;
    runViewType?: ViewType;
  }): Promise<{ runs: Run[]; nextPageToken?: string }> {
    const res = await this.call(Responses.runs, 'POST', 'runs/search', {
      experiment_ids: args.experimentIds,
      filter: args.filter ?? '',
      max_results: args.maxResults ?? 1000,
      order_by: args.orderBy ?? [],
      run_view_type: args.runViewType ?? 'ACTIVE_ONLY',
      page_token: args.pageToken,
    });
    return { runs: res?.runs ?? [], nextPageToken: res?.next_page_token || undefined };
  }

  /** Every experiment of the view (active ones by default), all pages read. */
  async searchExperiments(viewType: ViewType = 'ACTIVE_ONLY'): Promise<Experiment[]> {
    const experiments: Experiment[] = [];
    let pageToken: string | undefined;
    do {
      const res = await this.call(Responses.experiments, 'POST', 'experiments/search', { max_results: 1000, view_type: viewType, page_token: pageToken });
      experiments.push(...(res?.experiments ?? []));
      pageToken = res?.next_page_token || undefined;
    } while (pageToken);
    return experiments;
  }

  async logBatch(runId: string, batch: { metrics?: Metric[]; params?: KeyValue[]; tags?: KeyValue[] }): Promise<void> {
    await this.call(Responses.empty, 'POST', 'runs/log-batch', { run_id: runId, metrics: batch.metrics ?? [], params: batch.params ?? [], tags: batch.tags ?? [] });
  }

  /** MLflow's dataset inputs of a run (`runs/log-inputs`), shown in its UI; logging the same dataset again changes nothing. */
  async logInputs(runId: string, datasets: DatasetInput[]): Promise<void> {
    await this.call(Responses.empty, 'POST', 'runs/log-inputs', { run_id: runId, datasets });
  }

  async setTag(runId: string, key: string, value: string): Promise<void> {
    await this.call(Responses.empty, 'POST', 'runs/set-tag', { run_id: runId, key, value });
  }

  async updateRun(runId: string, status: RunStatus, endTime?: number): Promise<RunInfo> {
    const res = await this.call(Responses.runInfo, 'POST', 'runs/update', { run_id: runId, status, end_time: endTime });
    return res!.run_info;
  }

  async getMetricHistory(runId: string, metricKey: string): Promise<Metric[]> {
    const res = await this.call(Responses.metrics, 'GET', 'metrics/get-history', { run_id: runId, metric_key: metricKey, max_results: '25000' });
    return res?.metrics ?? [];
  }

  async ensureRegisteredModel(name: string, tags: KeyValue[] = []): Promise<void> {
    await this.call(Responses.empty, 'POST', 'registered-models/create', { name, tags }, [ALREADY_EXISTS]);
  }

  async getRegisteredModel(name: string): Promise<RegisteredModel | undefined> {
    const res = await this.call(Responses.registeredModel, 'GET', 'registered-models/get', { name }, [NOT_FOUND]);
    return res?.registered_model;
  }

  async createModelVersion(args: { name: string; source: string; runId: string; tags?: KeyValue[]; description?: string }): Promise<ModelVersion> {
    const res = await this.call(Responses.modelVersion, 'POST', 'model-versions/create', {
      name: args.name,
      source: args.source,
      run_id: args.runId,
      tags: args.tags ?? [],
      description: args.description,
    });
    return res!.model_version;
  }

  /** Every model version matching the filter (`''` for all), all pages read. */
  async searchModelVersions(filter: string): Promise<ModelVersion[]> {
    const versions: ModelVersion[] = [];
    let pageToken: string | undefined;
    do {
      const res = await this.call(Responses.modelVersions, 'GET', 'model-versions/search', { filter, max_results: '1000', page_token: pageToken });
      versions.push(...(res?.model_versions ?? []));
      pageToken = res?.next_page_token || undefined;
    } while (pageToken);
    return versions;
  }

  async setAlias(name: string, alias: string, version: string): Promise<void> {
    await this.call(Responses.empty, 'POST', 'registered-models/alias', { name, alias, version });
  }

  async getModelVersion(name: string, version: string): Promise<ModelVersion | undefined> {
    const res = await this.call(Responses.modelVersion, 'GET', 'model-versions/get', { name, version }, [NOT_FOUND]);
    return res?.model_version;
  }

  /** Setting a tag to the value it has is a no-op: callers retry. */
  async setModelVersionTag(name: string, version: string, key: string, value: string): Promise<void> {
    await this.call(Responses.empty, 'POST', 'model-versions/set-tag', { name, version, key, value });
  }

  /** Removing an alias that is not set is fine: moves are retried. */
  async deleteAlias(name: string, alias: string): Promise<void> {
    await this.call(Responses.empty, 'DELETE', 'registered-models/alias', { name, alias }, [NOT_FOUND]).catch(unlessAliasMissing);
  }

  async searchRegisteredModels(filter = ''): Promise<RegisteredModel[]> {
    const models: RegisteredModel[] = [];
    let pageToken: string | undefined;
    do {
      const res = await this.call(Responses.registeredModels, 'GET', 'registered-models/search', {
        filter,
        max_results: '1000',
        page_token: pageToken,
      });
      models.push(...(res?.registered_models ?? []));
      pageToken = res?.next_page_token;
    } while (pageToken);
    return models;
  }

  async getModelVersionByAlias(name: string, alias: string): Promise<ModelVersion | undefined> {
    const res = await this.call(Responses.modelVersion, 'GET', 'registered-models/alias', { name, alias }, [NOT_FOUND]).catch(unlessAliasMissing);
    return res?.model_version;
  }

  /**
   * One REST call. `tolerated` error codes resolve to `undefined` instead of throwing: the
   * "not found" and "already exists" answers that idempotent callers expect.
   */
  private async call<S extends z.ZodType>(
    schema: S,
    method: 'GET' | 'POST' | 'DELETE',
    endpoint: string,
    args: Record<string, unknown>,
    tolerated: string[] = [],
  ): Promise<z.output<S> | undefined> {
    const url = new URL(`${this.baseUrl}/api/2.0/mlflow/${endpoint}`);
    let body: string | undefined;
    if (method === 'GET') {
      for (const [k, v] of Object.entries(args)) if (v !== undefined) url.searchParams.set(k, typeof v === 'string' ? v : JSON.stringify(v));
    } else {
      body = JSON.stringify(args);
    }
    let res;
    try {
      res = await request(url, {
        method,
        body,
        headers: { ...(body && { 'content-type': 'application/json' }), ...(this.authorization && { authorization: this.authorization.reveal() }) },
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
      });
    } catch (err) {
      throw new MlflowUnreachableError(endpoint, { cause: err });
    }
    const text = await res.body.text();
    if (res.statusCode >= 200 && res.statusCode < 300) {
      const parsed = schema.safeParse(text ? safeJson(text) : {});
      if (parsed.success) return parsed.data;
      const issue = parsed.error.issues[0];
      throw new MlflowResponseError(endpoint, res.statusCode, `unexpected answer: ${issue.path.join('.') || '(body)'}: ${issue.message}`);
    }
    const parsed = safeJson(text);
    const code = typeof parsed?.error_code === 'string' ? parsed.error_code : undefined;
    if (code && tolerated.includes(code)) return undefined;
    const message = typeof parsed?.message === 'string' ? parsed.message : text.slice(0, 500);
    if (res.statusCode === 401 || res.statusCode === 403) throw new MlflowApiError(endpoint, res.statusCode, code, authProblem(res.statusCode, this.authorization !== undefined, message));
    throw new MlflowApiError(endpoint, res.statusCode, code, message);
  }
}

/** What to do about a 401/403, in words: the server's own message is often an HTML page or "You are not authenticated". */
function authProblem(status: number, sentCredentials: boolean, message: string): string {
  const said = message.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 200);
  if (status === 403) return `authenticated, but not allowed (${said}): give this MLflow user permission`;
  return sentCredentials
    ? `authentication failed: the server refused the credentials in MLFLOW_TRACKING_USERNAME/MLFLOW_TRACKING_PASSWORD or MLFLOW_TRACKING_TOKEN (${said})`
    : `authentication required: this MLflow server needs credentials; set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD, or MLFLOW_TRACKING_TOKEN (${said})`;
}

/** The client for the settings' MLflow server, with its credentials. */
export function mlflowClientFor(settings: Pick<Settings, 'mlflow'>, timeoutMs?: number): MlflowClient {
  return new MlflowClient(settings.mlflow.url, timeoutMs, settings.mlflow.authorization);
}

function safeJson(text: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}
