import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { gpuHostQueue, gpuPoolQueue } from '../common/contract';
import { loadSettings } from '../common/settings';
import { connectTemporal } from '../common/temporal-unreachable';
import { createGpuWorkers } from '../workers/gpu';
import { FAKE_EXECUTOR, FAKE_QUANT } from './bench-env';

/**
 * A GPU host for the benches, as its own process (so a bench can SIGKILL it or read its
 * memory): the product's GPU workers (`createGpuWorkers`) with the stand-in executors, pool,
 * host id and slots from GF_GPU_POOL, GF_GPU_HOST_ID and GF_GPU_SLOTS, the stand-in's epoch
 * duration from GF_FAKE_EPOCH_SECONDS. Prints `GPU host ready` once it polls.
 */
async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const settings = loadSettings();
  const connection = await connectTemporal(settings.temporal, (options) => NativeConnection.connect(options));
  const clientConnection = await connectTemporal(settings.temporal, (options) => Connection.connect(options));
  const client = new Client({ connection: clientConnection, namespace: settings.temporal.namespace });
  const workers = await createGpuWorkers({ settings, connection, client, executors: { train: FAKE_EXECUTOR, export: FAKE_QUANT, benchmark: FAKE_QUANT } });
  const running = Promise.all(workers.map((w) => w.run()));
  const { pool, hostId, slots } = settings.gpu;
  console.log(`GPU host ready: ${hostId}, ${slots} slot(s), queues ${gpuPoolQueue(pool)} and ${gpuHostQueue(pool, hostId)}`);
  await running;
  await clientConnection.close();
  await connection.close();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
