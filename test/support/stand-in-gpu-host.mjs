// A GPU host's worker process exactly as `node dist/workers/gpu.js` runs it (settings from the
// environment: GF_GPU_HOST_ID, GF_WORK_DIR, TEMPORAL_*, MLFLOW_*, AWS_*), except that its jobs run
// the stand-in executors of test/fixtures (seconds, no model): scripts/prod-check.sh starts two of
// these as two hosts to pass a pipeline and a sweep through the production topology quickly.
// Plain ES module on the compiled tree, so the script needs no build step of its own.
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { Client, Connection } = require('@temporalio/client');
const { NativeConnection } = require('@temporalio/worker');
const { createGpuWorkers, hostDeviceSlots } = require(path.join(repo, 'dist/workers/gpu.js'));
const { loadSettings } = require(path.join(repo, 'dist/common/settings.js'));
const { connectTemporal } = require(path.join(repo, 'dist/common/temporal-unreachable.js'));

const fixtures = path.join(repo, 'test/fixtures');
const settings = loadSettings();
const connection = await connectTemporal(settings.temporal, (options) => NativeConnection.connect(options));
const clientConnection = await connectTemporal(settings.temporal, (options) => Connection.connect(options));
const client = new Client({ connection: clientConnection, namespace: settings.temporal.namespace });
const devices = await hostDeviceSlots(settings);
const workers = await createGpuWorkers({
  settings,
  connection,
  client,
  devices,
  executors: { train: path.join(fixtures, 'fake_executor.py'), export: path.join(fixtures, 'fake_quant.py'), benchmark: path.join(fixtures, 'fake_quant.py') },
});
console.log(`GPU worker ${settings.gpu.hostId} (stand-in executors): ${devices.slots} slot(s), work dir ${settings.gpu.workDir}`);
await Promise.all(workers.map((w) => w.run()));
await clientConnection.close();
await connection.close();
