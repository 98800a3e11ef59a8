import { WorkflowFailedError } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import { moveModel } from '../../cli/registry-commands';
import { buildProgram } from '../../cli/gflow';
import { createControlWorker } from '../../workers/control';
import { connectStack, withWorkers, workflowBundle, type Stack } from '../support/harness';

jest.setTimeout(120_000);

let stack: Stack;
let bundle: Awaited<ReturnType<typeof workflowBundle>>;

beforeAll(async () => {
  stack = await connectStack();
  bundle = await workflowBundle();
});

/** A worker runs once: each test gets its own. */
const control = (): Promise<Worker> => createControlWorker({ settings: stack.settings, connection: stack.nativeConnection, workflowBundle: bundle });

afterAll(async () => {
  await stack?.close();
});

/** A registered model with `count` versions, each from its own run, and the given aliases. */
async function registeredModel(name: string, count: number, aliases: Record<string, string>): Promise<void> {
  const experimentId = await stack.mlflow.ensureExperiment('registry-tests');
  await stack.mlflow.ensureRegisteredModel(name);
  for (let i = 0; i < count; i++) {
    const run = await stack.mlflow.createRun({ experimentId, runName: `${name}-${i}`, tags: [] });
    await stack.mlflow.createModelVersion({ name, source: `${run.artifact_uri}/weights/best.pt`, runId: run.run_id });
  }
  for (const [alias, version] of Object.entries(aliases)) await stack.mlflow.setAlias(name, alias, version);
}

async function aliasesOf(name: string): Promise<Record<string, string>> {
  const model = await stack.mlflow.getRegisteredModel(name);
  return Object.fromEntries((model?.aliases ?? []).map((a) => [a.alias, a.version]));
}

describe('promote and rollback (registryMove workflow on a real Temporal server and MLflow)', () => {
  it('promotes the candidate, keeps the old champion as rollback, and rolls back', async () => {
    await registeredModel('reg-co.a-b.c.ppe', 2, { champion: '1', candidate: '2' });
    await withWorkers([await control()], async () => {
      const promoted = await moveModel(stack.client, { model: 'reg-co.a-b.c.ppe', op: 'promote' });
      expect(promoted.after).toEqual({ champion: '2', rollback: '1' });
      expect(await aliasesOf('reg-co.a-b.c.ppe')).toEqual({ champion: '2', rollback: '1' });

      await moveModel(stack.client, { model: 'reg-co.a-b.c.ppe', op: 'rollback' });
      expect(await aliasesOf('reg-co.a-b.c.ppe')).toEqual({ champion: '1', candidate: '2' });

      const refused = await moveModel(stack.client, { model: 'reg-co.a-b.c.ppe', op: 'rollback' }).catch((e: unknown) => e as Error);
      expect(refused).toBeInstanceOf(WorkflowFailedError);
      expect(String((refused as WorkflowFailedError).cause?.message)).toContain('has no rollback version');
      expect(await aliasesOf('reg-co.a-b.c.ppe')).toEqual({ champion: '1', candidate: '2' });

      const printed: string[] = [];
      const log = jest.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void printed.push(args.join(' ')));
      await buildProgram(stack.settings).parseAsync(['node', 'gflow', 'list', 'models', '--filter', 'reg-co.a-b']);
      log.mockRestore();
      expect(printed.join('\n')).toMatch(/\nreg-co\.a-b\.c\.ppe\s+v2\s+candidate\s[^\n]*\nreg-co\.a-b\.c\.ppe\s+v1\s+champion\s/);
    });
  });

  it('two promotes of the same model at once apply one after the other', async () => {
    await registeredModel('reg-co.a-b.c.fire', 3, { champion: '1' });
    await withWorkers([await control()], async () => {
      const results = await Promise.all([
        moveModel(stack.client, { model: 'reg-co.a-b.c.fire', op: 'promote', version: '2' }),
        moveModel(stack.client, { model: 'reg-co.a-b.c.fire', op: 'promote', version: '3' }),
      ]);
      const [first, second] = results.sort((a, b) => (a.before.champion === '1' ? -1 : b.before.champion === '1' ? 1 : 0));
      expect(first.before.champion).toBe('1');
      expect(second.before.champion).toBe(first.after.champion);
      const final = await aliasesOf('reg-co.a-b.c.fire');
      expect(final).toEqual(second.after);
      expect(final.rollback).toBe(first.after.champion);
      expect(new Set([final.champion, final.rollback])).toEqual(new Set(['2', '3']));
    });
  });
});
