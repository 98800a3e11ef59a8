/**
 * Registry aliases and the moves between them (docs/architecture.md §6): `candidate` → `champion` on
 * promote, the old champion kept as `rollback`; rollback reverses it. Pure: workflows import it.
 */
export const Alias = { candidate: 'candidate', champion: 'champion', rollback: 'rollback' } as const;
export type Alias = (typeof Alias)[keyof typeof Alias];

export const RegistryOp = { promote: 'promote', rollback: 'rollback' } as const;
export type RegistryOp = (typeof RegistryOp)[keyof typeof RegistryOp];

/** A registered model's aliases (alias → version) and all its versions. */
export interface ModelAliases {
  aliases: Record<string, string>;
  versions: string[];
}

/** The alias changes of one move, computed before anything is changed. */
export interface AliasMove {
  set: Record<string, string>;
  remove: string[];
}

/** Why a move cannot be made; nothing has been changed when it is raised. */
export class RegistryMoveError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RegistryMoveError';
  }
}

/** The moves of a promote: `version` (default: the candidate) becomes champion, the old champion rollback. */
export function planPromote(model: string, state: ModelAliases, version?: string): AliasMove {
  const target = version ?? state.aliases[Alias.candidate];
  if (target === undefined) throw new RegistryMoveError(`${model} has no ${Alias.candidate} to promote; give --version`);
  if (!state.versions.includes(target)) throw new RegistryMoveError(`${model} has no version ${target}`);
  const champion = state.aliases[Alias.champion];
  if (champion === target) throw new RegistryMoveError(`${model} version ${target} is already the ${Alias.champion}`);
  const set: Record<string, string> = { [Alias.champion]: target };
  if (champion !== undefined) set[Alias.rollback] = champion;
  const remove = state.aliases[Alias.candidate] === target ? [Alias.candidate] : [];
  return { set, remove };
}

/**
 * The moves of a rollback: the `rollback` version becomes champion again, the demoted one candidate.
 * With `expectChampion` (a soak rolling back its own promotion) it is refused when another version
 * has become champion since: that one is not the soak's to undo.
 */
export function planRollback(model: string, state: ModelAliases, expectChampion?: string): AliasMove {
  const previous = state.aliases[Alias.rollback];
  if (previous === undefined) throw new RegistryMoveError(`${model} has no ${Alias.rollback} version to go back to`);
  const champion = state.aliases[Alias.champion];
  if (expectChampion !== undefined && champion !== expectChampion) {
    throw new RegistryMoveError(`${model}: the champion is ${champion === undefined ? 'unset' : `v${champion}`}, not v${expectChampion}; not rolling back a version this move did not promote`);
  }
  const set: Record<string, string> = { [Alias.champion]: previous };
  if (champion !== undefined && champion !== previous) set[Alias.candidate] = champion;
  return { set, remove: [Alias.rollback] };
}

/** The aliases after a move, as the workflow reports them. */
export function applyMove(aliases: Record<string, string>, move: AliasMove): Record<string, string> {
  const next = { ...aliases, ...move.set };
  for (const alias of move.remove) delete next[alias];
  return next;
}

/** One workflow id per model: a second move of the same model waits for the first. */
export function registryWorkflowId(model: string): string {
  return `gf/registry/${model}`;
}

/** One guarded promotion per model version: `gflow approve <model> <version>` finds it by this id. */
export function promotionWorkflowId(model: string, version: string): string {
  return `gf/promotion/${model}/v${version}`;
}

/** Who moved an alias: a person (`user:{name}`) or a workflow (`workflow:{id}`), as the alias history records it. */
export const actor = {
  user: (name: string) => `user:${name}`,
  workflow: (workflowId: string) => `workflow:${workflowId}`,
};
