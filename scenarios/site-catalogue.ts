import { z } from 'zod';
import { closest } from './metric-keys';
import { DatasetSchema, SiteSchema } from './schema';
import type { ScenarioIssue } from './validate';

/**
 * The site catalogue (`sites.yaml`): each site named once, so a scenario, an optimizer policy or
 * an `experiments.yaml` entry can say `site: donghwa-busan-welding` instead of repeating the block
 * (and a typo in one copy cannot start a second MLflow experiment for the same zone). Names are
 * resolved before the file's own schema runs, so the scenario schema and its `z.infer` types stay
 * the only ones: a workflow only ever sees the block. Pure; the file is read by
 * scenarios/site-catalogue-loader.ts.
 *
 * ```yaml
 * sites:
 *   donghwa-busan-welding:
 *     customer: donghwa-entec
 *     region: busan
 *     plant: plant1
 *     zone: welding
 *     cameras: [weld-cam-01, weld-cam-02]
 *     dataset: { path: /data/donghwa-entec/welding/data.yaml, version: v1.2 }   # the scenario's default
 * ```
 */

const SITE_NAME = /^[a-z0-9][a-z0-9_-]*$/;

export const CatalogueSiteSchema = z.strictObject({
  ...SiteSchema.shape,
  /** The site's cameras, as the site calls them (documentation for now: what the models watch). */
  cameras: z.array(z.string().min(1)).default([]),
  /** The dataset a scenario naming this site uses when it has no `dataset:` of its own. */
  dataset: DatasetSchema.optional(),
});
export type CatalogueSite = z.infer<typeof CatalogueSiteSchema>;

export const SiteCatalogueSchema = z.strictObject({
  sites: z
    .record(z.string().regex(SITE_NAME, { error: (iss) => `expected a site name of lowercase letters, digits, '-' or '_', got ${JSON.stringify(iss.input)}` }), CatalogueSiteSchema)
    .superRefine((sites, ctx) => {
      // one name per site: two names for one zone would give it two ways to be written and looked up
      const seen = new Map<string, string>();
      for (const [name, s] of Object.entries(sites)) {
        const key = `${s.customer}/${s.region}-${s.plant}/${s.zone}`;
        const other = seen.get(key);
        if (other !== undefined) ctx.addIssue({ code: 'custom', path: [name], message: `${key} is already named ${other}: each site is named once` });
        else seen.set(key, name);
      }
    }),
});

/** Where site names are looked up: read on the first lookup only, so files that name no site never need one. */
export interface SiteCatalogue {
  readonly file: string;
  /** The site of `name`, or why there is none (unknown name with the closest one, no catalogue, a bad catalogue). */
  lookup(name: string): { site: CatalogueSite } | { error: string };
}

/** A name's site, or the refusal naming the closest name the catalogue has. */
export function lookupSite(sites: Record<string, CatalogueSite>, name: string, file: string): { site: CatalogueSite } | { error: string } {
  if (Object.hasOwn(sites, name)) return { site: sites[name] };
  const names = Object.keys(sites);
  if (names.length === 0) return { error: `unknown site ${JSON.stringify(name)}: ${file} names no sites` };
  return { error: `unknown site ${JSON.stringify(name)} in ${file}; did you mean ${closest(name, names)}?` };
}

export type SiteCatalogueFile = z.infer<typeof SiteCatalogueSchema>;

/** Input with site names replaced, and the names that could not be. */
export interface PreparedInput {
  input: unknown;
  issues: ScenarioIssue[];
  /** Fields the refused names would have filled: the schema's "required" for them would only repeat the refusal. */
  covers?: string[];
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The site block of a catalogue site: what the schemas' `site:` takes. */
export const siteBlock = ({ customer, region, plant, zone }: CatalogueSite) => ({ customer, region, plant, zone });

/**
 * A scenario's `site: <name>` becomes the site block, and its `dataset:` the site's default
 * dataset when the scenario has none. Anything else is left for the schema to judge.
 */
export function resolveScenarioSite(input: unknown, catalogue: SiteCatalogue): PreparedInput {
  if (!isRecord(input) || typeof input.site !== 'string') return { input, issues: [] };
  const found = catalogue.lookup(input.site);
  if ('error' in found) return { input, issues: [{ path: 'site', message: found.error }], covers: input.dataset === undefined ? ['dataset'] : [] };
  const dataset = input.dataset === undefined && found.site.dataset ? { dataset: { ...found.site.dataset } } : {};
  return { input: { ...input, site: siteBlock(found.site), ...dataset }, issues: [] };
}

/** An `experiments.yaml` entry's `site: <name>` becomes the site block. */
export function resolveRegistrySites(input: unknown, catalogue: SiteCatalogue): PreparedInput {
  if (!isRecord(input) || !isRecord(input.experiments)) return { input, issues: [] };
  const issues: ScenarioIssue[] = [];
  const experiments = Object.fromEntries(
    Object.entries(input.experiments).map(([name, entry]) => {
      if (!isRecord(entry) || typeof entry.site !== 'string') return [name, entry];
      const found = catalogue.lookup(entry.site);
      if ('error' in found) {
        issues.push({ path: `experiments.${name}.site`, message: found.error });
        return [name, entry];
      }
      return [name, { ...entry, site: siteBlock(found.site) }];
    }),
  );
  return { input: { ...input, experiments }, issues };
}

/**
 * An optimizer rule's `when.scope.site` is a glob of site keys (`acme/*\/weld`); a value with no
 * `/`, `*` or `?` can match no key, so it is read as a catalogue name and becomes that site's key.
 */
export function resolvePolicySites(input: unknown, catalogue: SiteCatalogue): PreparedInput {
  if (!isRecord(input) || !Array.isArray(input.rules)) return { input, issues: [] };
  const issues: ScenarioIssue[] = [];
  const rules = input.rules.map((rule: unknown, i) => {
    const scope = isRecord(rule) && isRecord(rule.when) && isRecord(rule.when.scope) ? rule.when.scope : undefined;
    if (!scope || typeof scope.site !== 'string' || /[/*?]/.test(scope.site)) return rule;
    const found = catalogue.lookup(scope.site);
    if ('error' in found) {
      issues.push({ path: `rules.${i}.when.scope.site`, message: found.error });
      return rule;
    }
    const { customer, region, plant, zone } = found.site;
    const when = (rule as { when: Record<string, unknown> }).when;
    return { ...(rule as Record<string, unknown>), when: { ...when, scope: { ...scope, site: `${customer}/${region}-${plant}/${zone}` } } };
  });
  return { input: { ...input, rules }, issues };
}
