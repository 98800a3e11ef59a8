import path from 'node:path';
import { Client } from '@temporalio/client';
import { NativeConnection, Worker, type WorkflowBundleOption } from '@temporalio/worker';
import { createFleetActivities } from '../activities/fleet/activities';
import { createReportActivities } from '../activities/reports/activities';
import { ChartRenderer, chartCacheDir } from '../activities/reports/chart';
import { createRegistryActivities } from '../activities/registry/activities';
import { createSearchActivities } from '../activities/search/activities';
import { createStorageActivities } from '../activities/storage/activities';
import { createS3Client } from '../activities/storage/s3-client';
import { createTrackingActivities } from '../activities/tracking/activities';
import { MlflowClient, mlflowClientFor } from '../activities/tracking/mlflow-client';
import { CONTROL_WORKER_NODE_FLAGS, missingNodeFlags } from '../common/control-worker-flags';
import { CONTROL_QUEUE } from '../common/contract';
import { loadSettings, type Settings } from '../common/settings';
import { connectTemporal } from '../common/temporal-unreachable';
import { deploymentVersion, workerDeploymentOptions } from '../common/worker-deployment';

export interface ControlWorkerOptions {
  settings: Settings;
  connection: NativeConnection;
  /** A pre-built bundle (tests build it once); otherwise the workflows are bundled at start. */
  workflowBundle?: WorkflowBundleOption;
  /** Tests inject a fault-wrapped client here. */
  mlflow?: MlflowClient;
  /** Keep a chart process started ahead for the next report (ChartRenderer `warm`): the long-running worker does; tests leave it off. */
  warmCharts?: boolean;
}

/**
 * The control worker: every workflow (pinned to this build's deployment version: common/worker-deployment.ts), plus the MLflow, S3 and fleet (optimizer) activities that need no GPU host. */
export async function createControlWorker({ settings, connection, workflowBundle, mlflow, warmCharts }: ControlWorkerOptions): Promise<Worker> {
  const client = mlflow ?? mlflowClientFor(settings);
  const tracking = createTrackingActivities({ mlflow: client });
  const registry = createRegistryActivities({ mlflow: client });
  const store = { s3: createS3Client(settings.s3), bucket: settings.s3.bucket, artifactsPrefix: settings.s3.artifactsPrefix };
  const storage = createStorageActivities({ ...store, allowedRoots: [] });
  const reportsDir = path.join(settings.stateDir, 'reports');
  const reports = createReportActivities({
    mlflow: client,
    storage: createStorageActivities({ ...store, allowedRoots: [reportsDir] }),
    charts: new ChartRenderer({ python: settings.python, cacheDir: chartCacheDir(settings.stateDir), warm: warmCharts }),
    workDir: reportsDir,
  });
  const temporal = new Client({ connection, namespace: settings.temporal.namespace });
  const fleet = createFleetActivities({ settings, mlflow: client, temporal, s3: store.s3, store });
  const search = createSearchActivities({ python: settings.python });
  return Worker.create({
    connection,
    namespace: settings.temporal.namespace,
    taskQueue: CONTROL_QUEUE,
    workerDeploymentOptions: workerDeploymentOptions(deploymentVersion(settings)),
    ...(workflowBundle ? { workflowBundle } : { workflowsPath: require.resolve('../workflows') }),
    activities: { ...tracking, ...registry, ...storage, ...reports, ...fleet, ...search },
  });
}

async function main(): Promise<void> {
  const settings = loadSettings();
  const connection = await connectTemporal(settings.temporal, (options) => NativeConnection.connect(options));
  const worker = await createControlWorker({ settings, connection, warmCharts: true });
  const { deploymentName, buildId } = deploymentVersion(settings);
  console.log(`control worker polling ${CONTROL_QUEUE} on ${settings.temporal.address} as ${deploymentName} build ${buildId}`);
  const missing = missingNodeFlags();
  if (missing.length) console.warn(`control worker: started without ${missing.join(' ')} (node ${CONTROL_WORKER_NODE_FLAGS.join(' ')} dist/workers/control.js): it may take far more memory (common/control-worker-flags.ts says why)`);
  await worker.run();
  await connection.close();
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
