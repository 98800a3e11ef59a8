import type { Command } from 'commander';
import type { Settings } from '../common/settings';
import { buildIdOf, deploymentView, setCurrentVersion, type DeploymentView } from '../common/worker-deployment';
import { CliError } from './cli-error';
import { formatTable } from './table';
import { connect } from './temporal';

/** The view as a table: each version, whether it is current, and the workflows still open on it. */
export function versionLines(view: DeploymentView, thisBuild: string): string[] {
  const rows = view.versions.map((v) => [v.buildId + (v.buildId === thisBuild ? ' (this checkout)' : ''), v.status, String(v.running), v.createdAt ?? '']);
  return [
    `worker deployment ${view.deployment}: current ${view.current ?? '(none: new workflows wait until a version is made current)'}${view.ramping ? `, ramping ${view.ramping}` : ''}`,
    formatTable([{ header: 'build id' }, { header: 'status' }, { header: 'running', right: true }, { header: 'created' }], rows),
    ...(view.unversionedRunning > 0 ? [`${view.unversionedRunning} running workflow(s) on no version (started before versioning, or by unversioned workers)`] : []),
  ];
}

/**
 * `gflow version [show|set-current]`: the Worker Deployment the workers join (docs/architecture.md,
 * "Deploying new workflow code"), which versions run what, and the rollout step that makes a
 * version current (what `temporal worker deployment set-current-version` does).
 */
export function registerVersionCommands(program: Command, settings: Settings): void {
  const version = program.command('version').description("the workers' deployment: its current version and the workflows running on each version");

  version
    .command('show', { isDefault: true })
    .description('the deployment, its current version, and the open workflows of each version')
    .option('--json', 'print JSON for scripts instead of a table')
    .action(async (opts: { json?: boolean }) => {
      const thisBuild = buildIdOf(settings);
      const { client, close } = await connect(settings);
      try {
        const view = await deploymentView(client.workflowService, settings.temporal.namespace, settings.deployment.name);
        if (opts.json) return console.log(JSON.stringify({ thisBuild, ...(view ?? { deployment: settings.deployment.name, versions: [], unversionedRunning: 0 }) }, null, 2));
        if (!view) return console.log(`worker deployment ${settings.deployment.name}: no worker of it has polled ${settings.temporal.address} yet (this checkout is build ${thisBuild})`);
        for (const line of versionLines(view, thisBuild)) console.log(line);
      } finally {
        await close();
      }
    });

  version
    .command('set-current [build-id]')
    .description("make a build the current version (default: this checkout's): new workflows and continuing sweeps go to it; pinned ones finish where they began")
    .option('--ignore-missing-task-queues', 'allow it although a task queue of the current version has no worker of this one (a host that is gone)')
    .option('--allow-no-pollers', 'allow it before any worker of the build has polled')
    .action(async (buildId: string | undefined, opts: { ignoreMissingTaskQueues?: boolean; allowNoPollers?: boolean }) => {
      const target = { deploymentName: settings.deployment.name, buildId: buildId ?? buildIdOf(settings) };
      const { client, close } = await connect(settings);
      try {
        const changed = await setCurrentVersion(client.workflowService, settings.temporal.namespace, target, { ...opts, timeoutMs: 15_000 }).catch((err: unknown) => {
          throw new CliError(`cannot make ${target.buildId} the current version of ${target.deploymentName}: ${(err as Error).message}`, 1, { cause: err });
        });
        console.log(`worker deployment ${target.deploymentName}: build ${target.buildId} ${changed ? 'is now' : 'was already'} the current version`);
      } finally {
        await close();
      }
    });
}
