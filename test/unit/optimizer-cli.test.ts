import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CliError } from '../../cli/cli-error';
import { decisionTable } from '../../cli/optimize-commands';
import { loadSettings } from '../../common/settings';
import type { RuleDecision } from '../../optimizer/decide';
import { gflowInProcess } from '../support/cli';

/** `gflow optimize check`: a bad policy is refused (exit 2, file, field, line) before MLflow is asked anything: the address below answers nothing. */
const settings = loadSettings({ MLFLOW_TRACKING_URI: 'http://127.0.0.1:9' });

const gflow = (...args: string[]) => gflowInProcess(settings, ...args);

describe('gflow optimize check', () => {
  it('refuses a bad policy file naming the file, the field and its line, exit 2', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'gf-optimize-'));
    const file = path.join(dir, 'optimizer.yaml');
    await writeFile(file, 'rules:\n  - name: slow\n    when: { metric: sys.latency_ms_p95, comparison: ">", threshold: 30 }\n    action: { type: quantize, variants: [{ backend: openvino, precision: int4 }] }\n    cooldown: 1 day\n');
    const err = await gflow('optimize', 'check', '--policy', file);
    expect(err).toBeInstanceOf(CliError);
    expect((err as CliError).exitCode).toBe(2);
    expect((err as CliError).message).toBe(
      `${file}: invalid optimizer policy\n` +
        '  - rules.0.action.variants.0.precision: expected one of fp32, fp16, int8, got string "int4" (line 4)\n' +
        '  - rules.0.cooldown: expected a duration such as 30m, 24h or 7d, got "1 day" (line 5)',
    );
  });

  it('refuses a missing policy file (default ./optimizer.yaml), exit 2', async () => {
    const err = await gflow('optimize', 'check', '--policy', '/nonexistent/optimizer.yaml');
    expect([(err as CliError).exitCode, (err as CliError).message]).toEqual([2, '/nonexistent/optimizer.yaml: invalid optimizer policy\n  - (file): cannot read file (ENOENT)']);
  });

  it('says MLflow cannot be reached once the policy is valid', async () => {
    const err = await gflow('optimize', 'check', '--policy', path.join(__dirname, '../../optimizer/examples/optimizer.yaml'));
    expect(err).toBeInstanceOf(CliError);
    expect((err as CliError).message).toMatch(/^MLflow experiments\/search: unreachable .*; is the stack up\?/);
  });

  it('prints one row per decision: rule, site, task, metric, value, threshold, decision, action id', () => {
    const base = { site: { customer: 'acme', region: 'north', plant: 'p1', zone: 'weld' }, siteKey: 'acme/north-p1/weld', task: 'ppe', champion: null, cooldownUntil: null } as const;
    const decisions: RuleDecision[] = [
      { ...base, rule: 'low-acc', metric: 'det.mAP50', comparison: '<', threshold: 0.75, value: 0.70000001, decision: 'started', action: 'sweep_retrain', workflowId: 'gf/optimizer/low-acc/acme/north-p1/weld/ppe/10236' },
      { ...base, rule: 'gpu', metric: 'sys.gpu_util_pct', comparison: '<', threshold: 50, value: null, decision: 'no_metric', action: 'batch_up', workflowId: null },
    ];
    expect(decisionTable(decisions).split('\n')).toEqual([
      'rule     site                task  metric            value  threshold  decision   action id',
      'low-acc  acme/north-p1/weld  ppe   det.mAP50           0.7     < 0.75  started    gf/optimizer/low-acc/acme/north-p1/weld/ppe/10236',
      'gpu      acme/north-p1/weld  ppe   sys.gpu_util_pct      -       < 50  no_metric  -',
    ]);
  });
});
