import { parseModelReference } from '../scenarios/model-reference';

/**
 * Labels of comparison arms: `comparison.value`, and the rows (`comparison.model`) and columns
 * (`comparison.dataset`) of the heat map. Two arms with one label would share a cell and one of
 * them would vanish from the map, so a label starts short (a file stem, a dataset version) and
 * takes more of its path, one folder at a time from the end, while another arm shares it.
 * Pure, for the comparison workflow.
 */

/** For each item, the first of its candidate labels (short to long) that no other item ends up with. */
export function distinctLabels(candidates: readonly string[][]): string[] {
  const level = candidates.map(() => 0);
  const labelOf = (i: number) => candidates[i][level[i]];
  for (;;) {
    const labels = candidates.map((_, i) => labelOf(i));
    const grow = labels.map((label, i) => level[i] < candidates[i].length - 1 && labels.some((other, j) => j !== i && other === label));
    if (!grow.includes(true)) return labels;
    grow.forEach((g, i) => {
      if (g) level[i]++;
    });
  }
}

/** `a/weights/best.pt` → `best`, `weights/best`, `a/weights/best`: longer and longer path ends, extension dropped. */
function pathEnds(file: string, dropLast?: string): string[] {
  const parts = file.replace(/\.(pt|ya?ml)$/, '').split('/').filter(Boolean);
  if (dropLast !== undefined && parts.length > 1 && parts[parts.length - 1] === dropLast) parts.pop();
  return parts.map((_, i) => parts.slice(parts.length - 1 - i).join('/'));
}

/** `models:/name@alias` → `name@alias`; `runs:/<id>/weights/last.pt` → `run <id8>/last`; a path → its file stem; longer ones after. */
function modelCandidates(ref: string): string[] {
  const parsed = parseModelReference(ref);
  if ('error' in parsed || parsed.kind === 'registered') return [ref.replace(/^models:\//, '')];
  if (parsed.kind === 'run') return [...pathEnds(parsed.artifactPath).map((end) => `run ${parsed.runId.slice(0, 8)}/${end}`), `run ${parsed.runId}/${parsed.artifactPath}`];
  return [...pathEnds(ref), ref];
}

/** Distinct labels of models (`comparison.models`, `comparison.architectures`). */
export function modelLabels(refs: readonly string[]): string[] {
  return distinctLabels(refs.map(modelCandidates));
}

/** Distinct labels of datasets: the version, then `v1 (site_a)`, `v1 (data/site_a)`, … when versions repeat. */
export function datasetLabels(datasets: readonly { path: string; version: string }[]): string[] {
  return distinctLabels(datasets.map((d) => [d.version, ...pathEnds(d.path, 'data').map((end) => `${d.version} (${end})`), `${d.version} (${d.path})`]));
}
