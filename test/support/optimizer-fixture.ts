import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { createStorageActivities } from '../../activities/storage/activities';
import { createS3Client } from '../../activities/storage/s3-client';
import { filterLiteral } from '../../activities/tracking/mlflow-client';
import { CONTROL_QUEUE } from '../../common/contract';
import { parseScenarioText } from '../../scenarios/loader';
import type { optimizer, OptimizerResult } from '../../workflows/optimizer';
import type { SiteSpec } from './fleet-fixture';
import type { Stack } from './harness';

/**
 * What the optimizer's stack tests (test/workflows/optimizer*.test.ts) share: the scenario a
 * champion's training would have recorded, recording it on a fleet run, policy files, running
 * one check, and listing the actions it started.
 */

/** The scenario the champion's training would have uploaded as config/scenario.yaml (CPU, so the stand-in executor trains it). */
export function championScenario(site: SiteSpec, task: string, training: { epochs: number; batch_size: number } = { epochs: 3, batch_size: 8 }) {
  return parseScenarioText(`
name: fleet
version: f1
type: train
site: { customer: ${site.customer}, region: ${site.region}, plant: ${site.plant}, zone: ${site.zone} }
task: { type: ${task}, classes: [helmet] }
model: { architecture: yolov8s.yaml, input_size: 64 }
dataset: { path: /nonexistent/data.yaml, version: synthetic-1 }
environment: { device: cpu, workers: 0 }
training: { epochs: ${training.epochs}, batch_size: ${training.batch_size}, learning_rate: 0.01, plots: false }
`);
}

/** Gives a fleet run (the champion's training) the artifacts a real training leaves: its scenario and weights (JSON figures, which the stand-in benchmark reads). */
export async function recordChampionArtifacts(stack: Stack, runId: string, scenario: ReturnType<typeof championScenario>): Promise<void> {
  const storage = createStorageActivities({ s3: createS3Client(stack.settings.s3), bucket: stack.settings.s3.bucket, artifactsPrefix: stack.settings.s3.artifactsPrefix, allowedRoots: [] });
  const { info } = await stack.mlflow.getRun(runId);
  await storage.uploadText({ artifactUri: info.artifact_uri, artifactPath: 'config/scenario.yaml', content: stringify(scenario) });
  await storage.uploadText({ artifactUri: info.artifact_uri, artifactPath: 'weights/best.pt', content: JSON.stringify({ mAP50: 0.8, latency_ms: 45 }) });
}

/** Writes a policy file into a fresh temporary folder; returns its path. */
export async function writePolicyFile(text: string, name = 'optimizer.yaml'): Promise<string> {
  const file = path.join(await mkdtemp(path.join(os.tmpdir(), 'gf-optimizer-')), name);
  await writeFile(file, text);
  return file;
}

/** Runs one optimizer check under `workflowId` and waits for its result (a worker must poll the control queue). */
export function runCheck(stack: Stack, policyFile: string, workflowId: string): Promise<OptimizerResult> {
  return stack.client.workflow.execute<typeof optimizer>('optimizer', { workflowId, taskQueue: CONTROL_QUEUE, args: [{ policyFile }] });
}

/** Ids of workflows matching a visibility query that started after `since` (ISO time), sorted. */
export async function workflowIdsSince(stack: Stack, query: string, since: string): Promise<string[]> {
  const ids: string[] = [];
  for await (const wf of stack.client.workflow.list({ query: `${query} AND StartTime > '${since}'` })) ids.push(wf.workflowId);
  return ids.sort();
}

/**
 * Top-level optimizer actions started after `since` whose id starts with `prefix` (e.g.
 * `gf/optimizer/{rule}/{customer}/`): not a sweep's trials or an action's parts, since action ids
 * end in their window number.
 */
export async function actionIdsSince(stack: Stack, since: string, prefix = 'gf/optimizer/'): Promise<string[]> {
  return (await workflowIdsSince(stack, `WorkflowId STARTS_WITH ${filterLiteral(prefix)}`, since)).filter((id) => /\/\d+$/.test(id));
}

/** How many executions (runs of any status) Temporal holds under a workflow id: 1 for an action started once. */
export async function executionsOf(stack: Stack, workflowId: string): Promise<number> {
  let count = 0;
  for await (const wf of stack.client.workflow.list({ query: `WorkflowId = ${filterLiteral(workflowId)}` })) if (wf.workflowId === workflowId) count += 1;
  return count;
}

/**
 * The MLflow runs an action recorded (its scenario's tags carry `optimizer.workflow_id` onto every
 * one), in the experiment of `siteRunId`'s site: found by tag, whatever workflows carry the action out.
 */
export async function actionRuns(stack: Stack, siteRunId: string, actionWorkflowId: string) {
  const { info } = await stack.mlflow.getRun(siteRunId);
  return stack.mlflow.searchRuns({ experimentIds: [info.experiment_id], filter: `tags.\`optimizer.workflow_id\` = ${filterLiteral(actionWorkflowId)}` });
}
