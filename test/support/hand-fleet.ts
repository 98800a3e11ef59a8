import { joinModels, type FleetRun, type FleetSnapshot, type ModelVersionRecord, type Site } from '../../fleet/records';

/**
 * A small fleet written out by hand, for the unit tests of the fleet queries and of the HTTP API
 * over them (test/unit/fleet-queries, fleet-server): site acme/north-p1/weld (ppe with a
 * rollback, a champion measured by a benchmark, a candidate, an int8 variant champion; fall with
 * one old weak champion) and beta/south-p2/dock (ppe whose champion is below the previous one).
 * Tests write their expected numbers as literals from this description, never computed from it.
 */
export const at = (day: number, hour: number) => Date.UTC(2026, 0, day, hour);
export const NOW = at(20, 12);

export const ACME: Site = { customer: 'acme', region: 'north', plant: 'p1', zone: 'weld' };
export const BETA: Site = { customer: 'beta', region: 'south', plant: 'p2', zone: 'dock' };
export const A_PPE = 'acme.north-p1.weld.ppe';
export const A_INT8 = 'acme.north-p1.weld.ppe__openvino_int8';

/** Written out here rather than taken from fleet/records.ts, which is under test. */
const keyOf = (site: Site) => `${site.customer}/${site.region}-${site.plant}/${site.zone}`;

/** A finished single train run of `site`'s `task` (one second long), before its model is joined; `extra` bends it. */
export function runRecord(id: string, site: Site, task: string, start: number, architecture: string | null, metrics: FleetRun['metrics'], extra: Partial<FleetRun> = {}): Omit<FleetRun, 'model'> {
  const siteKey = keyOf(site);
  return { runId: id, runName: `run-${id}`, experimentId: siteKey, siteKey, site, task, architecture, type: 'train', design: 'single', version: 'v1', parentRunId: null, status: 'FINISHED', startTime: start, endTime: start + 1000, modelSource: null, metrics, ...extra };
}

/** Version `v` of registered model `name`, produced by run `runId`. */
export function versionRecord(name: string, v: string, runId: string, aliases: ModelVersionRecord['aliases'], site: Site, task: string, variant: string | null = null): ModelVersionRecord {
  return { name, version: v, runId, aliases, site, siteKey: keyOf(site), task, variant, createdAt: null };
}

export const models: ModelVersionRecord[] = [
  versionRecord(A_PPE, '1', 'a1', ['rollback'], ACME, 'ppe'),
  versionRecord(A_PPE, '2', 'a2', ['champion'], ACME, 'ppe'),
  versionRecord(A_PPE, '3', 'a4', ['candidate'], ACME, 'ppe'),
  versionRecord(A_INT8, '1', 'a5', ['champion'], ACME, 'ppe', 'openvino_int8'),
  versionRecord('acme.north-p1.weld.fall', '1', 'b1', ['champion'], ACME, 'fall'),
  versionRecord('beta.south-p2.dock.ppe', '3', 'c0', ['rollback'], BETA, 'ppe'),
  versionRecord('beta.south-p2.dock.ppe', '4', 'c1', ['champion'], BETA, 'ppe'),
];

/** The fleet as read at NOW: 9 runs, 7 model versions. */
export const snapshot: FleetSnapshot = {
  readAt: NOW,
  models,
  runs: joinModels(
    [
      runRecord('a1', ACME, 'ppe', at(14, 10), 'yolov8n', { 'det.mAP50': 0.7 }),
      runRecord('a2', ACME, 'ppe', at(16, 10), 'yolov8s', { 'det.mAP50': 0.8 }),
      runRecord('a3', ACME, 'ppe', at(17, 9), 'yolov8s', { 'det.mAP50': 0.78, 'sys.latency_ms_p95': 35, 'sys.fps': 40 }, { type: 'infer', modelSource: `models:/${A_PPE}/2` }),
      runRecord('a4', ACME, 'ppe', at(17, 15), 'yolov8s', { 'det.mAP50': 0.84 }),
      runRecord('a5', ACME, 'ppe', at(18, 10), 'yolov8s', { 'det.mAP50': 0.77, 'sys.latency_ms_p95': 12 }, { type: 'quant' }),
      runRecord('a6', ACME, 'ppe', at(19, 11), 'yolov8n', { 'det.mAP50': 0.74 }),
      runRecord('b1', ACME, 'fall', at(5, 8), 'yolov8n', { 'det.mAP50': 0.6 }),
      runRecord('c0', BETA, 'ppe', at(12, 8), 'yolov8m', { 'det.mAP50': 0.95 }),
      runRecord('c1', BETA, 'ppe', at(19, 8), 'yolov8m', { 'det.mAP50': 0.9 }),
    ],
    models,
  ),
};
