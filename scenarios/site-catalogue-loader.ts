import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseYamlWith } from './loader';
import { lookupSite, SiteCatalogueSchema, type SiteCatalogue, type SiteCatalogueFile } from './site-catalogue';
import type { ScenarioIssue } from './validate';

/** A catalogue file that cannot be used; the message names the file and every bad field. */
export class SiteCatalogueError extends Error {
  constructor(
    readonly file: string,
    readonly issues: ScenarioIssue[],
  ) {
    super(`${file}: invalid site catalogue\n${issues.map((i) => `  - ${i.path || '(file)'}: ${i.message}`).join('\n')}`);
    this.name = 'SiteCatalogueError';
  }
}

/** `--sites FILE`, else `GF_SITES_FILE`, else `sites.yaml` in the current folder. */
export function siteCatalogueFile(flag?: string, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string {
  return path.resolve(cwd, flag ?? (env.GF_SITES_FILE || 'sites.yaml'));
}

/**
 * The catalogue at `file` (default: siteCatalogueFile()). A relative default dataset path is taken
 * from the catalogue's folder, as a scenario's paths are from its own.
 */
export function siteCatalogue(file = siteCatalogueFile()): SiteCatalogue {
  let loaded: SiteCatalogueFile | SiteCatalogueError | undefined;
  const load = () => {
    if (loaded !== undefined) return loaded;
    try {
      // read once, on the first lookup (sync: the YAML loaders that look names up are sync)
      const text = readTextOrFail(file);
      const catalogue = parseYamlWith(SiteCatalogueSchema, text, (issues) => new SiteCatalogueError(file, issues));
      for (const site of Object.values(catalogue.sites)) if (site.dataset) site.dataset.path = path.resolve(path.dirname(file), site.dataset.path);
      loaded = catalogue;
    } catch (err) {
      if (!(err instanceof SiteCatalogueError)) throw err;
      loaded = err;
    }
    return loaded;
  };
  return {
    file,
    lookup(name) {
      if (!existsSync(file)) return { error: `site ${JSON.stringify(name)} is a site name, but there is no site catalogue ${file} (set GF_SITES_FILE or --sites FILE, or write the site block)` };
      const catalogue = load();
      if (catalogue instanceof SiteCatalogueError) return { error: `site ${JSON.stringify(name)}: the catalogue is not usable: ${catalogue.message}` };
      return lookupSite(catalogue.sites, name, file);
    },
  };
}

/** A catalogue that cannot be read is a catalogue error, reported where the name was used. */
function readTextOrFail(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new SiteCatalogueError(file, [{ path: '', message: `cannot read file (${(err as NodeJS.ErrnoException).code ?? String(err)})` }]);
  }
}

