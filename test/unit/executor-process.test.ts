import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runExecutor } from '../../activities/gpu/executor-process';
import type { ExecutorEvent } from '../../activities/gpu/protocol';
import { loadSettings } from '../../common/settings';

/** runExecutor reads an executor's output to its last line, and does not wait for ever on pipes a grandchild kept. */

const settings = loadSettings();
let dir: string;
beforeAll(async () => void (dir = await mkdtemp(path.join(os.tmpdir(), 'gflow-executor-process-'))));
afterAll(() => rm(dir, { recursive: true, force: true }));

async function run(name: string, python: string) {
  const file = path.join(dir, `${name}.py`);
  await writeFile(file, python);
  const events: ExecutorEvent[] = [];
  const started = Date.now();
  const exit = await runExecutor({
    command: settings.python,
    args: [file],
    spec: {},
    env: { ...process.env, PYTHONUNBUFFERED: '1' },
    cwd: dir,
    logFile: path.join(dir, `${name}.log`),
    pidFile: path.join(dir, `${name}.pid`),
    signal: new AbortController().signal,
    onEvent: (event) => void events.push(event),
  });
  return { exit, events, seconds: (Date.now() - started) / 1000 };
}

it('every line written before exit is read, the last one included, however fast the executor exits', async () => {
  // 3,000 epochs (~1 MB) written at once, a last line (~300 kB) larger than the pipe, then os._exit
  const { exit, events } = await run(
    'burst',
    [
      'import json, os, sys',
      'out = sys.stdout',
      'for e in range(1, 3001):',
      '    out.write(json.dumps({"event": "epoch", "epoch": e, "epochs": 3000, "metrics": {f"m{i}": e + i / 100 for i in range(20)}}) + "\\n")',
      'out.write(json.dumps({"event": "epoch", "epoch": 3000, "epochs": 3000, "metrics": {f"last{i:05d}": 1.0 for i in range(20000)}}) + "\\n")',
      'out.flush()',
      'os._exit(0)',
    ].join('\n'),
  );
  expect(exit.code).toBe(0);
  expect(events).toHaveLength(3001);
  expect(Object.keys((events[3000] as { metrics: object }).metrics)).toHaveLength(20000);
});

it('returns soon after the executor exits even when a grandchild still holds its pipes', async () => {
  const { exit, events, seconds } = await run(
    'grandchild',
    [
      'import json, subprocess, sys',
      'subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])',
      'print(json.dumps({"event": "epoch", "epoch": 1, "epochs": 1, "metrics": {"a": 1.0}}), flush=True)',
    ].join('\n'),
  );
  expect(exit.code).toBe(0);
  expect(events).toHaveLength(1);
  expect(seconds).toBeLessThan(10);
});
