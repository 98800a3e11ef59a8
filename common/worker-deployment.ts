import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import type { WorkerDeploymentVersion } from '@temporalio/common';
import { optionalTsToMs } from '@temporalio/common/lib/time';
import { temporal as proto } from '@temporalio/proto';
import { SettingsError } from './settings-error';
import type { Settings } from './settings';

/**
 * Worker Versioning (docs/architecture.md "Deploying new workflow code"): both workers join the
 * Worker Deployment `settings.deployment.name` under this build's id, every workflow is PINNED to
 * the version it started on (the workers' default behaviour), and a sweep moves to the current
 * version when it continues as new. A version gets work only once it is the deployment's current
 * one: `gflow dev up` makes the checkout's build current, a rollout does it with
 * `gflow version set-current` (or `temporal worker deployment set-current-version`).
 */

/** Where an image without `.git` keeps the commit it was built from (written by the Dockerfiles from the `GIT_COMMIT` build argument). */
export const BUILD_COMMIT_FILE = 'BUILD_COMMIT';

/** Thrown when the build id cannot be derived: no GF_BUILD_ID, no git checkout, no BUILD_COMMIT file. */
export class BuildIdUnknownError extends SettingsError {
  constructor(repoRoot: string, cause?: unknown) {
    super(`GF_BUILD_ID: not set, and no commit to derive it from (${repoRoot} is no git checkout and has no ${BUILD_COMMIT_FILE} file): set GF_BUILD_ID, or build the image with --build-arg GIT_COMMIT=$(git rev-parse --short=12 HEAD)`);
    if (cause !== undefined) this.cause = cause;
  }
}

/** `GF_BUILD_ID`, else `{package version}-{commit}`: the commit from git in a checkout, else from the image's BUILD_COMMIT file. */
export function buildIdOf(settings: Pick<Settings, 'repoRoot' | 'deployment'>): string {
  if (settings.deployment.buildId) return settings.deployment.buildId;
  const { version } = JSON.parse(readFileSync(path.join(settings.repoRoot, 'package.json'), 'utf8')) as { version: string };
  return `${version}-${commitOf(settings.repoRoot)}`;
}

function commitOf(repoRoot: string): string {
  try {
    return execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch (gitError) {
    try {
      const commit = readFileSync(path.join(repoRoot, BUILD_COMMIT_FILE), 'utf8').trim();
      if (/^[0-9a-f]{7,40}$/.test(commit)) return commit;
    } catch {
      // neither git nor the file: the error below names both
    }
    throw new BuildIdUnknownError(repoRoot, gitError);
  }
}

export function deploymentVersion(settings: Pick<Settings, 'repoRoot' | 'deployment'>): WorkerDeploymentVersion {
  return { deploymentName: settings.deployment.name, buildId: buildIdOf(settings) };
}

/** The workers' `workerDeploymentOptions`: every workflow pinned to the version it started on. */
export function workerDeploymentOptions(version: WorkerDeploymentVersion) {
  return { version, useWorkerVersioning: true, defaultVersioningBehavior: 'PINNED' } as const;
}

type WorkflowService = Client['workflowService'];

export interface SetCurrentOptions {
  /** Make it current before any of its workers polled (a test stack or bench whose workers start later). */
  allowNoPollers?: boolean;
  /** Let task queues of the current version that the new one lacks go (a host that is gone). */
  ignoreMissingTaskQueues?: boolean;
  /** How long to wait for the version's workers to be known to the server (default 30 s). */
  timeoutMs?: number;
}

/**
 * Makes `version` its deployment's current version unless it already is (true when it changed
 * it). The server learns of a version from its workers' first polls, a moment after they start:
 * refusals are retried until `timeoutMs`, then the last one is thrown.
 */
export async function setCurrentVersion(service: WorkflowService, namespace: string, version: WorkerDeploymentVersion, opts: SetCurrentOptions = {}): Promise<boolean> {
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  for (;;) {
    try {
      if ((await currentBuildId(service, namespace, version.deploymentName)) === version.buildId) return false;
      await service.setWorkerDeploymentCurrentVersion({
        namespace,
        deploymentName: version.deploymentName,
        buildId: version.buildId,
        identity: 'gflow',
        allowNoPollers: opts.allowNoPollers ?? false,
        ignoreMissingTaskQueues: opts.ignoreMissingTaskQueues ?? false,
      });
      return true;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}

/** The deployment's current build id; undefined while it has none (or the deployment is not known yet). */
export async function currentBuildId(service: WorkflowService, namespace: string, deploymentName: string): Promise<string | undefined> {
  const info = await describeDeploymentInfo(service, namespace, deploymentName);
  return info?.routingConfig?.currentDeploymentVersion?.buildId ?? undefined;
}

/** The server's view of a deployment, or undefined when no worker of it ever polled. */
export async function describeDeploymentInfo(service: WorkflowService, namespace: string, deploymentName: string) {
  try {
    const { workerDeploymentInfo } = await service.describeWorkerDeployment({ namespace, deploymentName });
    return workerDeploymentInfo ?? undefined;
  } catch (err) {
    if ((err as { code?: number }).code === 5 /* NOT_FOUND */) return undefined;
    throw err;
  }
}

/** One version of the deployment as `gflow version` shows it. */
export interface VersionView {
  buildId: string;
  /** The server's word: current, ramping, draining (pinned workflows still run on it), drained, inactive. */
  status: string;
  createdAt?: string;
  /** Open workflow executions on this version (visibility: `TemporalWorkerDeploymentVersion`). */
  running: number;
}

export interface DeploymentView {
  deployment: string;
  current?: string;
  ramping?: string;
  versions: VersionView[];
  /** Open executions on no version: started before the workers were versioned, or by unversioned workers. */
  unversionedRunning: number;
}

/** The enum's name without its prefix, in lower case (`WORKER_DEPLOYMENT_VERSION_STATUS_DRAINING` → `draining`). */
function enumWord<E extends Record<string, string | number>>(values: E, value: number | null | undefined, prefix: string): string {
  const name = Object.entries(values).find(([, v]) => v === value)?.[0] ?? 'UNSPECIFIED';
  return name.replace(prefix, '').toLowerCase();
}

/**
 * The deployment, its current and ramping versions, and how many open workflows each version
 * (and no version) runs; undefined when no worker of the deployment ever polled this server.
 */
export async function deploymentView(service: WorkflowService, namespace: string, deploymentName: string): Promise<DeploymentView | undefined> {
  const info = await describeDeploymentInfo(service, namespace, deploymentName);
  if (!info) return undefined;
  const running = async (versionClause: string) =>
    (await service.countWorkflowExecutions({ namespace, query: `${versionClause} AND ExecutionStatus = 'Running'` })).count?.toNumber() ?? 0;
  const versions = await Promise.all(
    (info.versionSummaries ?? []).map(async (v): Promise<VersionView> => {
      const buildId = v.deploymentVersion?.buildId ?? '';
      const createdMs = optionalTsToMs(v.createTime);
      return {
        buildId,
        status: enumWord(proto.api.enums.v1.WorkerDeploymentVersionStatus, v.status, 'WORKER_DEPLOYMENT_VERSION_STATUS_'),
        ...(createdMs !== undefined && { createdAt: new Date(createdMs).toISOString() }),
        running: await running(`${VERSION_SEARCH_ATTRIBUTE} = '${versionString({ deploymentName, buildId })}'`),
      };
    }),
  );
  versions.sort((a, b) => (b.createdAt ?? '').localeCompare(a.createdAt ?? ''));
  const routing = info.routingConfig;
  return {
    deployment: deploymentName,
    ...(routing?.currentDeploymentVersion?.buildId && { current: routing.currentDeploymentVersion.buildId }),
    ...(routing?.rampingDeploymentVersion?.buildId && { ramping: routing.rampingDeploymentVersion.buildId }),
    versions,
    unversionedRunning: await running(`${VERSION_SEARCH_ATTRIBUTE} IS NULL`),
  };
}

/** The visibility attribute the server keeps on each execution: its deployment version. */
export const VERSION_SEARCH_ATTRIBUTE = 'TemporalWorkerDeploymentVersion';

/** A version as the server writes it in `TemporalWorkerDeploymentVersion`. */
export function versionString(version: WorkerDeploymentVersion): string {
  return `${version.deploymentName}:${version.buildId}`;
}
