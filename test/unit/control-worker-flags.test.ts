import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { CONTROL_WORKER_NODE_FLAGS, missingNodeFlags } from '../../common/control-worker-flags';
import { loadSettings } from '../../common/settings';
import { controlWorker, gpuWorker } from '../../stack/servers';

/** The control worker's V8 flags (common/control-worker-flags.ts says why): on `gflow dev up`'s command line, known to this Node. */

const settings = loadSettings({ GF_STATE_DIR: '/tmp/gf-flags-test' });

test('gflow dev up starts the control worker with them, before its script; the GPU worker without', () => {
  expect(controlWorker(settings).args).toEqual([...CONTROL_WORKER_NODE_FLAGS, path.join(settings.repoRoot, 'dist/workers/control.js')]);
  expect(gpuWorker(settings).args).toEqual([path.join(settings.repoRoot, 'dist/workers/gpu.js')]);
});

test('this Node accepts each of them (an unknown V8 flag would stop the worker at start)', () => {
  for (const flag of CONTROL_WORKER_NODE_FLAGS) {
    // `node: bad option` and exit 9 otherwise
    expect(JSON.parse(execFileSync(process.execPath, [flag, '-p', 'JSON.stringify(process.execArgv)'], { encoding: 'utf8' }))[0]).toBe(flag);
  }
});

test('a worker started without them knows which are missing (it warns at start)', () => {
  expect(missingNodeFlags([])).toEqual([...CONTROL_WORKER_NODE_FLAGS]);
  expect(missingNodeFlags(['--inspect', ...CONTROL_WORKER_NODE_FLAGS])).toEqual([]);
});
