import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { MlflowClient } from '../../activities/tracking/mlflow-client';
import { loadSettings } from '../../common/settings';
import type { RuleDecision } from '../../optimizer/decide';
import { BETA, DOCK, PAINT, tag, writeTestFleet } from '../support/fleet-fixture';
import { gflowPrinted } from '../support/cli';

/**
 * `gflow optimize check` over the fleet of test/support/fleet-fixture.ts in the test stack's real
 * MLflow: the seeds' three rules, scoped to this file's customers. The fixture's dock ppe
 * champion is at mAP50 0.72 and its paint fall champion at latency p95 45 ms; every champion
 * has GPU utilisation 55 % but kiln ppe, which has no champion at all.
 */

jest.setTimeout(120_000);

const settings = loadSettings();

const gflow = (...args: string[]) => gflowPrinted(settings, ...args);

const policyText = (scope: string) => `max_concurrent: 2
rules:
  - name: low-accuracy-retrain
    when: { metric: mAP50, comparison: "<", threshold: 0.75, scope: ${scope} }
    action: { type: sweep_retrain, parameters: { learning_rate: [0.001, 0.005, 0.01], batch_size: [8, 16] } }
    cooldown: 48h
  - name: high-latency-quantize
    when: { metric: sys.latency_ms_p95, comparison: ">", threshold: 30, scope: ${scope} }
    action: { type: quantize, variants: [{ backend: openvino, precision: int8 }] }
    cooldown: 24h
  - name: low-gpu-util-batch-up
    when: { metric: sys.gpu_util_pct, comparison: "<", threshold: 50, scope: ${scope} }
    action: { type: batch_up, factor: 2 }
    cooldown: 7d
`;

let policy: string;

beforeAll(async () => {
  await writeTestFleet(new MlflowClient(settings.mlflow.url));
  const dir = await mkdtemp(path.join(os.tmpdir(), 'gf-optimize-'));
  policy = path.join(dir, 'optimizer.yaml');
  await writeFile(policy, policyText(`{ site: "*-${tag}/**" }`));
});

it('decides one sweep retrain (dock ppe, mAP50 0.72) and one quantize (paint fall, p95 45 ms), starting nothing', async () => {
  const out = JSON.parse(await gflow('optimize', 'check', '--policy', policy, '--json')) as { dryRun: boolean; maxConcurrent: number; decisions: RuleDecision[] };
  expect([out.dryRun, out.maxConcurrent]).toEqual([false, 2]);
  // 6 sites × 2 tasks × 3 rules
  expect(out.decisions).toHaveLength(36);
  const started = out.decisions.filter((d) => d.decision === 'started');
  expect(started.map((d) => [d.rule, d.siteKey, d.task, d.value, d.action, d.champion?.version])).toEqual([
    ['low-accuracy-retrain', DOCK, 'ppe', 0.72, 'sweep_retrain', '2'],
    ['high-latency-quantize', PAINT, 'fall', 45, 'quantize', '2'],
  ]);
  expect(started[0].workflowId).toMatch(new RegExp(`^gf/optimizer/low-accuracy-retrain/${BETA}/south-p1/dock/ppe/\\d+$`));
  expect(started[1].workflowId).toMatch(new RegExp(`^gf/optimizer/high-latency-quantize/alpha-${tag}/north-p2/paint/fall/\\d+$`));
  const count = (decision: string) => out.decisions.filter((d) => d.decision === decision).length;
  // kiln ppe has no champion: no_metric under each of the three rules
  expect([count('started'), count('no_trigger'), count('no_metric'), count('cooldown'), count('skipped_max_concurrent')]).toEqual([2, 31, 3, 0, 0]);
  expect(out.decisions.filter((d) => d.decision === 'no_metric').map((d) => [d.rule, d.siteKey, d.task])).toEqual([
    ['low-accuracy-retrain', `gamma-${tag}/east-p1/kiln`, 'ppe'],
    ['high-latency-quantize', `gamma-${tag}/east-p1/kiln`, 'ppe'],
    ['low-gpu-util-batch-up', `gamma-${tag}/east-p1/kiln`, 'ppe'],
  ]);
});

it('prints the decisions as a table', async () => {
  const lines = (await gflow('optimize', 'check', '--policy', policy)).split('\n');
  expect(lines[0]).toMatch(/^rule +site +task +metric +value +threshold +decision +action id$/);
  expect(lines.filter((l) => / started /.test(l)).map((l) => l.split(/ {2,}/).slice(0, 7))).toEqual([
    ['low-accuracy-retrain', DOCK, 'ppe', 'det.mAP50', '0.72', '< 0.75', 'started'],
    ['high-latency-quantize', PAINT, 'fall', 'sys.latency_ms_p95', '45', '> 30', 'started'],
  ]);
  expect(lines.slice(-2)).toEqual(['36 decisions', `policy: ${policy} (max_concurrent 2); nothing was started`]);
});
