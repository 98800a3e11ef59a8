/**
 * The fleet server's routes, in one place: the server registers them, the fleet page, the Grafana
 * dashboard test and the CLI's links read them, so a renamed route cannot leave a caller behind.
 */
export const ApiPath = {
  summary: '/api/metrics/summary',
  trend: '/api/metrics/trend',
  comparison: '/api/metrics/comparison',
  alerts: '/api/metrics/alerts',
  health: '/api/health',
  /** The MLflow and Temporal Web UI base URLs and the namespace, for the fleet page's links. */
  config: '/api/config',
  openapi: '/api/openapi.json',
  /** The GPU pool: hosts, what runs where, what waits (the same view as `gflow pool --json`). */
  pool: '/api/pool',
  prometheus: '/metrics',
} as const;
export type ApiPath = (typeof ApiPath)[keyof typeof ApiPath];
