import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { workflowBundle } from '../support/harness';
import { historyFromJSON, WORKFLOW_IDS_FILE } from '../support/history-json';

/**
 * Grids run whole from `patched('sweep-whole-grid')` on: a sweep started before it with a grid
 * larger than its `max_runs` (refused today) still replays and goes on. The committed first run
 * of the 5-value grid sweep, its input's max_runs set to 4 as such a sweep had it, replays.
 */

jest.setTimeout(120_000);

const DIR = path.resolve(__dirname, '../histories');
const IDS = JSON.parse(readFileSync(path.join(DIR, WORKFLOW_IDS_FILE), 'utf8')) as Record<string, string>;

beforeAll(() => {
  Runtime.install({ logger: new DefaultLogger('WARN') });
});

it('a grid sweep started before grids ran whole, with max_runs below its grid, replays', async () => {
  const history = historyFromJSON(readFileSync(path.join(DIR, 'sweep-run-1-before-whole-grid.json'), 'utf8'));
  // a history recorded after the change carries its marker and would take the new path: hence this older one
  const markers = history.events.map((e) => e.markerRecordedEventAttributes?.details?.['patch-data']?.payloads?.[0]?.data).filter((d) => d !== undefined && d !== null);
  expect(markers.map((d) => (JSON.parse(Buffer.from(d).toString('utf8')) as { id: string }).id)).not.toContain('sweep-whole-grid');
  const payload = history.events[0].workflowExecutionStartedEventAttributes!.input!.payloads![0];
  const input = JSON.parse(Buffer.from(payload.data!).toString('utf8')) as { scenario: { sweep: { strategy: string; max_runs: number; parameters: { learning_rate: number[] } } } };
  expect(input.scenario.sweep).toEqual(expect.objectContaining({ strategy: 'grid', parameters: { learning_rate: [0.001, 0.003, 0.01, 0.03, 0.1] } }));
  // 4 of 5: this run still launches trials 0 and 1 and continues as new, as the recorded one did
  input.scenario.sweep.max_runs = 4;
  payload.data = Buffer.from(JSON.stringify(input), 'utf8');
  await expect(Worker.runReplayHistory({ workflowBundle: await workflowBundle(), replayName: 'replay-partial-grid' }, history, IDS['sweep-run-1-before-whole-grid'])).resolves.toBeUndefined();
});
