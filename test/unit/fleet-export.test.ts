import { execFile } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { exportFleet } from '../../fleet/export';
import type { FleetRun, FleetSnapshot } from '../../fleet/records';
import { loadSettings } from '../../common/settings';

// pyarrow's import alone takes seconds on a loaded 2-core machine (jest's default is 5 s)
jest.setTimeout(60_000);

const { python } = loadSettings();
const site = { customer: 'acme', region: 'north', plant: 'p1', zone: 'weld' };

function fleetRun(extra: Partial<FleetRun>): FleetRun {
  return {
    runId: 'r',
    runName: 'ppe-yolov8n-train-v1',
    experimentId: '3',
    siteKey: 'acme/north-p1/weld',
    site,
    task: 'ppe',
    architecture: 'yolov8n',
    type: 'train',
    design: 'single',
    version: 'v1',
    parentRunId: null,
    status: 'FINISHED',
    startTime: Date.UTC(2026, 0, 5, 8, 30),
    endTime: Date.UTC(2026, 0, 5, 9),
    modelSource: null,
    model: null,
    metrics: {},
    ...extra,
  };
}

const snapshot: FleetSnapshot = {
  readAt: 0,
  models: [],
  runs: [
    fleetRun({ runId: 'b', task: 'ppe', type: 'infer', startTime: Date.UTC(2026, 0, 6), endTime: null, status: 'RUNNING', architecture: null, modelSource: 'models:/acme.north-p1.weld.ppe/1', metrics: { 'det.mAP50': 0.8, 'sys.latency_ms_p95': 21.5 } }),
    fleetRun({ runId: 'a', model: { name: 'acme.north-p1.weld.ppe', version: '1', aliases: ['candidate', 'champion'] }, metrics: { 'det.mAP50': 0.75 } }),
  ],
};

/** Reads the file back with pyarrow (the project's venv) and prints its schema and rows as JSON. */
async function readWithPyarrow(file: string): Promise<{ columns: [string, string][]; rows: Record<string, unknown>[] }> {
  const script = `
import json, sys
import pyarrow.parquet as pq, pyarrow.csv as pc
f = sys.argv[1]
t = pq.read_table(f) if f.endswith('.parquet') else pc.read_csv(f)
rows = [{k: (v.isoformat() if hasattr(v, 'isoformat') else v) for k, v in r.items()} for r in t.to_pylist()]
print(json.dumps({'columns': [[c.name, str(c.type)] for c in t.schema], 'rows': rows}))
`;
  const { stdout } = await promisify(execFile)(python, ['-c', script, file]);
  return JSON.parse(stdout) as { columns: [string, string][]; rows: Record<string, unknown>[] };
}

describe('exportFleet', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'gf-export-'));
  });

  it('writes a parquet table pyarrow reads: typed columns, one row per run sorted by start, nulls where absent', async () => {
    const file = await exportFleet(snapshot, 'parquet', dir);
    expect(file).toBe(path.join(dir, 'fleet-runs.parquet'));
    const table = await readWithPyarrow(file);
    expect(table.columns.slice(0, 21)).toEqual([
      ['run_id', 'string'],
      ['run_name', 'string'],
      ['experiment_id', 'string'],
      ['site', 'string'],
      ['customer', 'string'],
      ['region', 'string'],
      ['plant', 'string'],
      ['zone', 'string'],
      ['task', 'string'],
      ['architecture', 'string'],
      ['type', 'string'],
      ['design', 'string'],
      ['version', 'string'],
      ['parent_run_id', 'string'],
      ['status', 'string'],
      ['model_name', 'string'],
      ['model_version', 'string'],
      ['model_aliases', 'string'],
      ['model_source', 'string'],
      ['start_time', 'timestamp[ms, tz=UTC]'],
      ['end_time', 'timestamp[ms, tz=UTC]'],
    ]);
    expect(table.columns.slice(21, 24)).toEqual([
      ['det.mAP50', 'double'],
      ['det.mAP50_95', 'double'],
      ['det.precision', 'double'],
    ]);
    expect(table.columns).toHaveLength(21 + 19);
    expect(table.rows.map((r) => [r.run_id, r.status, r.architecture, r.model_version, r.model_aliases, r.model_source, r.start_time, r.end_time, r['det.mAP50'], r['sys.latency_ms_p95']])).toEqual([
      ['a', 'FINISHED', 'yolov8n', '1', 'candidate,champion', null, '2026-01-05T08:30:00+00:00', '2026-01-05T09:00:00+00:00', 0.75, null],
      ['b', 'RUNNING', null, null, null, 'models:/acme.north-p1.weld.ppe/1', '2026-01-06T00:00:00+00:00', null, 0.8, 21.5],
    ]);
  });

  it('writes the same table as CSV with a header and ISO times', async () => {
    const file = await exportFleet(snapshot, 'csv', dir);
    expect(file).toBe(path.join(dir, 'fleet-runs.csv'));
    const lines = (await readFile(file, 'utf8')).trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^run_id,run_name,experiment_id,site,customer,region,plant,zone,task,architecture,type,design,version,parent_run_id,status,model_name,model_version,model_aliases,model_source,start_time,end_time,det\.mAP50,/);
    expect(lines[1]).toBe(
      'a,ppe-yolov8n-train-v1,3,acme/north-p1/weld,acme,north,p1,weld,ppe,yolov8n,train,single,v1,,FINISHED,acme.north-p1.weld.ppe,1,"candidate,champion",,2026-01-05T08:30:00.000Z,2026-01-05T09:00:00.000Z,0.75' + ','.repeat(18),
    );
    const table = await readWithPyarrow(file);
    expect(table.rows.map((r) => [r.run_id, r.model_aliases, r['sys.latency_ms_p95']])).toEqual([
      ['a', 'candidate,champion', null],
      ['b', '', 21.5],
    ]);
  });
});
