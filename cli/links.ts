import { urlHost, type Settings } from '../common/settings';
import type { UiLinks } from '../common/workflow-metadata';

/** The UIs a workflow's Web UI details link to: MLflow as a browser reaches it, and the fleet page `gflow serve` serves. */
export function uiLinks(settings: Settings): UiLinks {
  return { mlflow: settings.mlflow.uiUrl, fleet: `http://${urlHost(settings.host)}:${settings.fleet.port}/` };
}

/** Where a person sees a workflow in the Temporal Web UI. */
export function temporalWorkflowUrl(settings: Settings, workflowId: string): string {
  return `${settings.temporal.uiUrl}/namespaces/${settings.temporal.namespace}/workflows/${encodeURIComponent(workflowId)}`;
}

/** Where a person sees a run in the MLflow UI. */
export function mlflowRunUrl(settings: Settings, experimentId: string, runId: string): string {
  return `${settings.mlflow.url}/#/experiments/${experimentId}/runs/${runId}`;
}

/** Where a person sees a registered model version in the MLflow UI. */
export function mlflowModelUrl(settings: Settings, name: string, version: string): string {
  return `${settings.mlflow.url}/#/models/${encodeURIComponent(name)}/versions/${version}`;
}
