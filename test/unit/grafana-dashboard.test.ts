import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { parse } from 'yaml';
import { z } from 'zod';
import { NO_RULES_FILE } from '../../fleet/alert-rules';
import { ApiPath } from '../../server/api-paths';
import { buildFleetServer } from '../../server/app';

/**
 * The Grafana provisioning of deploy/grafana (issue 8 item 6) against the fleet API it reads:
 * every query of the overview dashboard (panels and template variables) names a route of
 * `ApiPath`, the real server (server/app.ts, its query schemas from fleet/query-params.ts)
 * answers its exact parameters with 200, every `$variable` it uses is defined, every data source
 * it names is the provisioned one, and docker-compose.yml mounts what Grafana is told to load.
 * Grafana itself is not started (no Docker here); the files are what can drift.
 */

const REPO = path.resolve(__dirname, '../..');
const GRAFANA = path.join(REPO, 'deploy/grafana');
const read = (file: string) => readFileSync(file, 'utf8');

/** What a variable stands for when a query is sent: one customer and one task, as a user would pick. */
const SAMPLE_VALUES: Record<string, string> = { customer: 'acme', task: 'ppe' };

/** The parts of an Infinity query this test reads (grafana-infinity-datasource's query model). */
const InfinityQuerySchema = z.object({
  refId: z.string(),
  datasource: z.object({ type: z.string(), uid: z.string() }).optional(),
  type: z.literal('json'),
  source: z.literal('url'),
  url: z.string(),
  url_options: z.object({ method: z.literal('GET'), params: z.array(z.object({ key: z.string(), value: z.string() })).default([]) }),
});
type InfinityQuery = z.infer<typeof InfinityQuerySchema>;

const DashboardSchema = z.object({
  uid: z.string(),
  title: z.string(),
  panels: z.array(z.object({ id: z.number(), title: z.string(), type: z.string(), datasource: z.object({ type: z.string(), uid: z.string() }).optional(), targets: z.array(InfinityQuerySchema).min(1) })).min(1),
  templating: z.object({
    list: z.array(z.object({ name: z.string(), type: z.string(), datasource: z.object({ type: z.string(), uid: z.string() }).optional(), query: z.object({ queryType: z.literal('infinity'), infinityQuery: InfinityQuerySchema }) })),
  }),
});
type Dashboard = z.infer<typeof DashboardSchema>;

const DatasourcesFileSchema = z.object({
  apiVersion: z.literal(1),
  datasources: z.array(z.object({ name: z.string(), uid: z.string(), type: z.string(), url: z.string(), jsonData: z.object({ allowedHosts: z.array(z.string()) }) })),
});
const DashboardProvidersSchema = z.object({ apiVersion: z.literal(1), providers: z.array(z.object({ name: z.string(), type: z.literal('file'), options: z.object({ path: z.string() }) })) });
const ComposeSchema = z.object({ services: z.record(z.string(), z.object({ image: z.string().optional(), ports: z.array(z.string()).optional(), volumes: z.array(z.string()).optional(), environment: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional() }).loose()) });

const dashboardText = read(path.join(GRAFANA, 'dashboards/fleet-overview.json'));
const datasources = DatasourcesFileSchema.parse(parse(read(path.join(GRAFANA, 'provisioning/datasources/fleet-api.yaml'))));
const providers = DashboardProvidersSchema.parse(parse(read(path.join(GRAFANA, 'provisioning/dashboards/dashboards.yaml'))));
const compose = ComposeSchema.parse(parse(read(path.join(REPO, 'docker-compose.yml'))));

/** Every query of the dashboard with where it sits, for messages. */
function queriesOf(dashboard: Dashboard): { where: string; query: InfinityQuery; datasourceUids: string[] }[] {
  return [
    ...dashboard.panels.flatMap((p) => p.targets.map((t) => ({ where: `panel ${p.id} "${p.title}" ${t.refId}`, query: t, datasourceUids: [p.datasource?.uid, t.datasource?.uid].filter((u): u is string => u !== undefined) }))),
    ...dashboard.templating.list.map((v) => ({ where: `variable $${v.name}`, query: v.query.infinityQuery, datasourceUids: [v.datasource?.uid, v.query.infinityQuery.datasource?.uid].filter((u): u is string => u !== undefined) })),
  ];
}

const ROUTES = new Set<string>(Object.values(ApiPath));

/** Queries whose URL is not a route of the fleet API (a path, no host: the data source's URL is prefixed). */
function routeProblems(dashboard: Dashboard): string[] {
  return queriesOf(dashboard)
    .filter(({ query }) => !ROUTES.has(query.url))
    .map(({ where, query }) => `${where}: ${query.url} is not one of ${[...ROUTES].join(', ')}`);
}

/** `$name`, `${name}`, `${name:format}`, `[[name]]` in a string. */
function variablesIn(text: string): string[] {
  return [...text.matchAll(/\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]/g)].map((m) => m[1] ?? m[2] ?? m[3]);
}

function substitute(text: string): string {
  return text.replace(/\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]/g, (whole, a?: string, b?: string, c?: string) => SAMPLE_VALUES[a ?? b ?? c ?? ''] ?? whole);
}

const dashboard = DashboardSchema.parse(JSON.parse(dashboardText));

describe('Grafana provisioning (deploy/grafana)', () => {
  let app: FastifyInstance;

  beforeAll(async () => {
    app = await buildFleetServer({
      snapshot: () => Promise.resolve({ readAt: Date.UTC(2026, 0, 20), runs: [], models: [] }),
      rules: NO_RULES_FILE,
      links: { mlflowUrl: 'http://mlflow.test:5000', temporalUiUrl: 'http://temporal.test:8233', namespace: 'gf' },
    });
  });
  afterAll(async () => {
    await app.close();
  });

  it('provisions one Infinity data source on the fleet-api service, and nothing else may be reached through it', () => {
    expect(datasources.datasources).toHaveLength(1);
    const [ds] = datasources.datasources;
    expect(ds.type).toBe('yesoreyeram-infinity-datasource');
    expect(ds.url).toBe('http://fleet-api:8300');
    expect(ds.jsonData.allowedHosts).toEqual(['http://fleet-api:8300']);
    expect(compose.services['fleet-api']?.ports?.some((p) => p.endsWith(':8300'))).toBe(true);
  });

  it('the grafana service installs Infinity and mounts the provisioning and the dashboards read-only where the provider looks', () => {
    const grafana = compose.services.grafana;
    expect(grafana?.image).toMatch(/^grafana\/grafana-oss:\d+\.\d+\.\d+$/);
    expect(grafana?.environment?.GF_INSTALL_PLUGINS).toMatch(/^yesoreyeram-infinity-datasource \d+\.\d+\.\d+$/);
    expect(grafana?.volumes).toEqual(expect.arrayContaining(['./deploy/grafana/provisioning:/etc/grafana/provisioning:ro', './deploy/grafana/dashboards:/var/lib/grafana/dashboards:ro']));
    expect(providers.providers.map((p) => p.options.path)).toEqual(['/var/lib/grafana/dashboards']);
    expect(grafana?.ports).toEqual(['127.0.0.1:3000:3000']);
  });

  it('the dashboard has the seeds’ overview panels: mAP50 trend, architecture comparison, latency distribution, alerts table', () => {
    expect(dashboard.panels.map((p) => [p.type, p.targets[0].url])).toEqual(
      expect.arrayContaining([
        ['timeseries', ApiPath.trend],
        ['barchart', ApiPath.comparison],
        ['histogram', ApiPath.trend],
        ['table', ApiPath.alerts],
      ]),
    );
    expect(dashboard.templating.list.map((v) => v.name)).toEqual(['customer', 'task']);
  });

  it('every panel and variable query names a route of the fleet API', () => {
    expect(routeProblems(dashboard)).toEqual([]);
  });

  it('the route check catches a panel pointed at a route that does not exist', () => {
    const broken = structuredClone(dashboard);
    broken.panels[0].targets[0].url = '/api/metrics/missing';
    expect(routeProblems(broken)).toEqual([`panel 1 "${dashboard.panels[0].title}" A: /api/metrics/missing is not one of ${Object.values(ApiPath).join(', ')}`]);
  });

  it('the server answers every query’s exact parameters (variables filled in) with 200', async () => {
    const answers = await Promise.all(
      queriesOf(dashboard).map(async ({ where, query }) => {
        const qs = new URLSearchParams(query.url_options.params.map(({ key, value }): [string, string] => [key, substitute(value)]));
        const res = await app.inject({ method: 'GET', url: `${query.url}?${qs.toString()}` });
        return `${where}: ${res.statusCode}${res.statusCode === 200 ? '' : ` ${res.body}`}`;
      }),
    );
    expect(answers.filter((a) => !a.endsWith(': 200'))).toEqual([]);
    expect(answers).toHaveLength(8); // 6 panels, 2 variables
  });

  it('every $variable used is defined, and each variable only uses the ones defined before it', () => {
    const defined = dashboard.templating.list.map((v) => v.name);
    // where Grafana fills variables in for these panels: titles, URLs and parameters (root selectors are JSONata, whose `$distinct` is no variable)
    const used = new Set([...dashboard.panels.map((p) => p.title), ...queriesOf(dashboard).flatMap(({ query }) => [query.url, ...query.url_options.params.map((p) => p.value)])].flatMap(variablesIn));
    expect([...used].filter((name) => !defined.includes(name))).toEqual([]);
    expect([...used].sort()).toEqual(['customer', 'task']);
    dashboard.templating.list.forEach((v, i) => {
      const uses = v.query.infinityQuery.url_options.params.flatMap((p) => variablesIn(p.value));
      expect(uses.filter((name) => !defined.slice(0, i).includes(name))).toEqual([]);
    });
  });

  it('every data source a panel, query or variable names is the provisioned one', () => {
    const uids = new Set(queriesOf(dashboard).flatMap((q) => q.datasourceUids));
    expect([...uids]).toEqual([datasources.datasources[0].uid]);
    expect(queriesOf(dashboard).every((q) => q.datasourceUids.length > 0)).toBe(true);
  });
});
