import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CliError } from '../../cli/cli-error';
import { loadSettings } from '../../common/settings';
import { gflowInProcess } from '../support/cli';

/** `gflow optimize schedule`: a bad interval or policy is refused (exit 2) before Temporal is asked anything: the address below answers nothing. */
const settings = loadSettings({ TEMPORAL_ADDRESS: '127.0.0.1:9', MLFLOW_TRACKING_URI: 'http://127.0.0.1:9' });

const gflow = (...args: string[]) => gflowInProcess(settings, ...args);

const GOOD = 'rules:\n  - name: slow\n    when: { metric: sys.latency_ms_p95, comparison: ">", threshold: 30 }\n    action: { type: quantize, variants: [{ backend: openvino, precision: int8 }] }\n    cooldown: 1d\n';

async function policyFile(text: string): Promise<string> {
  const file = path.join(await mkdtemp(path.join(os.tmpdir(), 'gf-schedule-')), 'optimizer.yaml');
  await writeFile(file, text);
  return file;
}

it('refuses an interval that is not a duration, naming --every, exit 2', async () => {
  const err = await gflow('optimize', 'schedule', '--every', '6 hours', '--policy', await policyFile(GOOD));
  expect(err).toBeInstanceOf(CliError);
  expect([(err as CliError).exitCode, (err as CliError).message]).toEqual([2, '--every: expected a duration such as 30m, 24h or 7d, got "6 hours"']);
});

it('refuses a bad policy file naming the field and its line, exit 2', async () => {
  const file = await policyFile(GOOD.replace('cooldown: 1d', 'cooldown: 1 day'));
  const err = await gflow('optimize', 'schedule', '--every', '6h', '--policy', file);
  expect(err).toBeInstanceOf(CliError);
  expect((err as CliError).exitCode).toBe(2);
  expect((err as CliError).message).toContain(`${file}: invalid optimizer policy`);
  expect((err as CliError).message).toContain('rules.0.cooldown: expected a duration such as 30m, 24h or 7d, got "1 day" (line 5)');
});

