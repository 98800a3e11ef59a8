import { CliError } from '../../cli/cli-error';
import { loadSettings } from '../../common/settings';
import { gflowInProcess } from '../support/cli';

/** Bad flags are refused with the flag named (exit 2) before MLflow is asked anything: the address below answers nothing. */
const settings = loadSettings({ MLFLOW_TRACKING_URI: 'http://127.0.0.1:9' });

const gflow = (...args: string[]) => gflowInProcess(settings, ...args);

describe('gflow metrics and alerts flags', () => {
  it.each([
    [['metrics', 'trend', '--customer', 'acme', '--task', 'ppe', '--metric', 'mAP5'], /^--metric: "mAP5" is not a fleet metric; did you mean det\.mAP50\?/],
    [['metrics', 'trend', '--customer', 'acme', '--task', 'ppe', '--metric', 'latency_ms_p95'], /did you mean sys\.latency_ms_p95\?/],
    [['metrics', 'trend', '--task', 'ppe', '--metric', 'mAP50'], /^give --customer \(or --site\)/],
    [['metrics', 'trend', '--customer', 'acme', '--metric', 'mAP50'], /^give --task/],
    [['metrics', 'trend', '--customer', 'acme', '--task', 'ppe', '--metric', 'mAP50', '--by', 'week'], /^--by: expected one of run, day, got "week"$/],
    [['metrics', 'summary', '--task', 'helmet'], /^--task: expected one of ppe, fall, fire, collision, stuck, got "helmet"$/],
    [['metrics', 'summary', '--days', '0'], /^--days: expected a positive whole number of days, got "0"$/],
    [['metrics', 'summary', '--days', '1.5'], /^--days: expected a positive whole number of days, got "1\.5"$/],
    [['metrics', 'compare', '--site', 'acme/n-p/z', '--task', 'ppe', '--by', 'dataset'], /^--by: expected one of architecture, version, got "dataset"$/],
    [['metrics', 'export', '--format', 'xlsx', '--output', '/tmp/x'], /^--format: expected one of parquet, csv, got "xlsx"$/],
  ])('gflow %j is refused', async (args, message) => {
    const err = await gflow(...args);
    expect(err).toBeInstanceOf(CliError);
    expect((err as CliError).exitCode).toBe(2);
    expect((err as CliError).message).toMatch(message);
  });

  it('says MLflow cannot be reached, and how to fix it', async () => {
    const err = await gflow('metrics', 'summary', '--json');
    expect(err).toBeInstanceOf(CliError);
    expect((err as CliError).message).toMatch(/^MLflow experiments\/search: unreachable .*; is the stack up\? \(gflow dev up, or set MLFLOW_TRACKING_URI\)$/);
  });
});
