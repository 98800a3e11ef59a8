import { existsSync } from 'node:fs';
import fastifyStatic from '@fastify/static';
import fastifySwagger from '@fastify/swagger';
import Fastify, { type FastifyInstance } from 'fastify';
import { jsonSchemaTransform, serializerCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { PoolView } from '../cli/pool-view';
import { MlflowUnreachableError } from '../activities/tracking/mlflow-client';
import { alerts, comparison, summary, trend, trendByDay, type AlertRulesFile, type FleetSnapshot } from '../fleet';
import { AlertsQuery, ComparisonQuery, filterOf, parseQuery, QueryParamError, SummaryQuery, TrendQuery } from '../fleet/query-params';
import { ApiPath } from './api-paths';
import { FleetGauges } from './prometheus';
import { AlertSchema, ComparisonRowSchema, ConfigSchema, ErrorSchema, HealthSchema, SummaryRowSchema, TrendResponseSchema, type FleetLinks, type Health } from './responses';

/**
 * The fleet HTTP API (docs/architecture.md §4): the fleet queries over one snapshot, the same
 * answers as `gflow metrics … --json`, their parameters checked by the zod schemas the CLI uses
 * (fleet/query-params.ts), the OpenAPI document generated from those schemas, Prometheus gauges,
 * and the fleet page's static files at `/`.
 */

export interface FleetServerOptions {
  /** The snapshot each request answers from; the server calls it per request (SnapshotCache decides how fresh). */
  snapshot: () => Promise<FleetSnapshot>;
  /** Alert thresholds for `/api/metrics/alerts` and the open-alerts gauge. */
  rules: AlertRulesFile;
  /** Base URLs the fleet page builds its MLflow and Temporal links from (`/api/config`). */
  links: FleetLinks;
  /** Whether MLflow answers now (health); default: whether `snapshot()` succeeded. */
  mlflowReachable?: () => Promise<boolean>;
  /** Why the snapshot may be old (the last refresh's error), for health. */
  lastError?: () => string | null;
  /** The fleet page's files, served at `/`; left out or missing: no page, the API alone. */
  publicDir?: string;
  /** Epoch milliseconds, for the snapshot's age; tests fix it. Default: Date.now. The queries count days back from when the snapshot was read, as the CLI does. */
  now?: () => number;
  /** Fastify's request log (pino, to stdout); off by default. */
  logger?: boolean;
  /** The GPU pool's view read from Temporal (`gflow pool --json`); left out: `/api/pool` answers 503. */
  pool?: (pool?: string) => Promise<PoolView>;
}

const PoolQuery = z.strictObject({ pool: z.string().min(1).optional().describe('the GPU pool (default: the server’s GF_GPU_POOL)') });

const errors = { 400: ErrorSchema, 503: ErrorSchema };

/**
 * A ready Fastify app; `app.inject()` it, or `app.listen({ port, host })` it (`gflow serve`).
 * Query parameters are parsed by the shared schemas: a bad one is a 400 `{ error, field }`.
 */
export async function buildFleetServer(options: FleetServerOptions): Promise<FastifyInstance> {
  const now = options.now ?? Date.now;
  const app = Fastify({ logger: options.logger ?? false });
  app.setValidatorCompiler(({ schema }) => (data) => {
    try {
      return { value: parseQuery(schema as z.ZodType, (data ?? {}) as Record<string, unknown>) };
    } catch (err) {
      return { error: err as Error };
    }
  });
  app.setSerializerCompiler(serializerCompiler);
  app.setErrorHandler((err, request, reply) => {
    if (err instanceof QueryParamError) return reply.code(400).send({ error: err.message, field: err.field });
    if (err instanceof MlflowUnreachableError) return reply.code(503).send({ error: err.message });
    request.log.error(err);
    const status = (err as { statusCode?: number }).statusCode ?? 500;
    return reply.code(status).send({ error: err instanceof Error ? err.message : String(err) });
  });

  await app.register(fastifySwagger, {
    openapi: {
      info: { title: 'GuardianFlow fleet API', description: 'Fleet metrics across every site: the same queries as `gflow metrics`.', version: '1.0.0' },
    },
    transform: jsonSchemaTransform,
  });
  if (options.publicDir && existsSync(options.publicDir)) await app.register(fastifyStatic, { root: options.publicDir, prefix: '/' });

  const api = app.withTypeProvider<ZodTypeProvider>();
  const gauges = new FleetGauges();

  api.get(ApiPath.summary, { schema: { summary: 'Per site × task: champion, its numbers, runs in the window, best candidate', querystring: SummaryQuery, response: { 200: SummaryRowSchema.array(), ...errors } } }, async (request) => {
    const { query } = request;
    return summary(await options.snapshot(), { filter: filterOf(query), days: query.days });
  });

  api.get(ApiPath.trend, { schema: { summary: 'One metric over time for a site’s task, per run or per UTC day', querystring: TrendQuery, response: { 200: TrendResponseSchema, ...errors } } }, async (request) => {
    const { query } = request;
    const points = trend(await options.snapshot(), { filter: filterOf(query), metric: query.metric, days: query.days });
    return query.by === 'day' ? { metric: query.metric, by: 'day' as const, points: trendByDay(points) } : { metric: query.metric, by: 'run' as const, points };
  });

  api.get(ApiPath.comparison, { schema: { summary: 'Architectures or registered versions of a site’s task side by side', querystring: ComparisonQuery, response: { 200: ComparisonRowSchema.array(), ...errors } } }, async (request) => {
    const { query } = request;
    return comparison(await options.snapshot(), { filter: filterOf(query), by: query.by });
  });

  api.get(ApiPath.alerts, { schema: { summary: 'Champions below the mAP50 / above the latency thresholds, drops, sites without recent runs', querystring: AlertsQuery, response: { 200: AlertSchema.array(), ...errors } } }, async (request) => {
    const { query } = request;
    return alerts(await options.snapshot(), options.rules, { filter: filterOf(query) });
  });

  api.get(ApiPath.health, { schema: { summary: 'Whether MLflow answers and how old the snapshot is; 503 when degraded', response: { 200: HealthSchema, 503: HealthSchema } } }, async (_request, reply) => {
    const snapshot = await options.snapshot().catch((err: unknown) => err as Error);
    const held = snapshot instanceof Error ? undefined : snapshot;
    const reachable = options.mlflowReachable ? await options.mlflowReachable() : held !== undefined;
    const lastError = options.lastError?.() ?? (snapshot instanceof Error ? snapshot.message : null);
    const health: Health = {
      status: reachable && held ? 'ok' : 'degraded',
      mlflow: { url: options.links.mlflowUrl, reachable },
      snapshot: held ? { readAt: held.readAt, ageSeconds: Math.max(0, (now() - held.readAt) / 1000), runs: held.runs.length, models: held.models.length } : null,
      lastError,
    };
    return reply.code(health.status === 'ok' ? 200 : 503).send(health);
  });

  api.get(ApiPath.config, { schema: { summary: 'MLflow and Temporal Web UI base URLs and the namespace, for links', response: { 200: ConfigSchema } } }, () => Promise.resolve(options.links));

  api.get(ApiPath.prometheus, { schema: { summary: 'Per site × task gauges in the Prometheus text format', produces: ['text/plain'] } }, async (_request, reply) => {
    const text = await gauges.render(await options.snapshot(), options.rules, now());
    return reply.type(gauges.contentType).send(text);
  });

  api.get(ApiPath.pool, { schema: { summary: 'The GPU pool: hosts, their slots and devices, what runs on each, what waits by priority and customer', querystring: PoolQuery, response: { 200: z.record(z.string(), z.unknown()).describe('the view: pool, queue, readAt, hosts, slots, waiting, waitingBy, held, backlog'), 400: ErrorSchema, 503: ErrorSchema } } }, async (request, reply) => {
    if (!options.pool) return reply.code(503).send({ error: 'this server reads no Temporal: the pool view is not available' });
    return { ...(await options.pool(request.query.pool)) };
  });

  api.get(ApiPath.openapi, { schema: { summary: 'This document (OpenAPI 3)' } }, () => Promise.resolve(app.swagger()));

  await app.ready();
  return app;
}
