import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseRegistryText, RegistryFileError } from '../../legacy/loader';
import { parsePolicyText, PolicyFileError } from '../../optimizer/policy-loader';
import { loadScenarioFile, parseScenarioText, ScenarioFileError } from '../../scenarios/loader';
import { siteCatalogue, siteCatalogueFile } from '../../scenarios/site-catalogue-loader';

/** The site catalogue: names resolved in scenarios, registries and policies, unknown names refused with the closest one. */

const REPO = path.join(__dirname, '../..');
const EXAMPLE = siteCatalogue(path.join(REPO, 'sites.yaml'));

const scenario = (site: string, dataset = '') => `
name: t
version: v1
type: train
site: ${site}
task: { type: ppe, classes: [helmet] }
model: { architecture: yolov8n.yaml, input_size: 64 }
${dataset}
training: { epochs: 3, batch_size: 16, learning_rate: 0.01 }
`;

function messageOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof ScenarioFileError || err instanceof RegistryFileError || err instanceof PolicyFileError) return err.message;
    throw err;
  }
  throw new Error('expected a file error');
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'gflow-sites-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('site catalogue in a scenario', () => {
  it('a name becomes the site block, and the site’s default dataset fills a missing dataset', () => {
    const s = parseScenarioText(scenario('donghwa-busan-welding'), 's.yaml', EXAMPLE);
    expect(s.site).toEqual({ customer: 'donghwa-entec', region: 'busan', plant: 'plant1', zone: 'welding' });
    expect(s.dataset).toEqual({ path: '/data/donghwa-entec/welding/data.yaml', version: 'v1.2' });
  });

  it('a dataset the scenario gives wins over the site’s', () => {
    const s = parseScenarioText(scenario('donghwa-busan-welding', 'dataset: { path: mine.yaml, version: v9 }'), 's.yaml', EXAMPLE);
    expect(s.dataset).toEqual({ path: 'mine.yaml', version: 'v9' });
  });

  it('an unknown name is refused naming the file, the field, its line and the closest name', () => {
    const message = messageOf(() => parseScenarioText(scenario('donghwa-busan-weldin', 'dataset: { path: d.yaml, version: v1 }'), 's.yaml', EXAMPLE));
    expect(message).toBe(`s.yaml: invalid scenario\n  - site: unknown site "donghwa-busan-weldin" in ${path.join(REPO, 'sites.yaml')}; did you mean donghwa-busan-welding? (line 5)`);
  });

  it('a site without a default dataset leaves dataset required', () => {
    expect(messageOf(() => parseScenarioText(scenario('donghwa-busan-full'), 's.yaml', EXAMPLE))).toContain('  - dataset: required (a mapping)');
  });

  it('a name with no catalogue says where it looked and how to point elsewhere', () => {
    const missing = path.join(dir, 'none.yaml');
    const message = messageOf(() => parseScenarioText(scenario('x'), 's.yaml', siteCatalogue(missing)));
    expect(message).toContain(`site "x" is a site name, but there is no site catalogue ${missing} (set GF_SITES_FILE or --sites FILE`);
    // the dataset the site would have given is not reported missing as well
    expect(message).not.toContain('dataset');
  });

  it('a bad catalogue is named with its own file, field and line', async () => {
    const file = path.join(dir, 'bad-sites.yaml');
    await writeFile(file, 'sites:\n  a:\n    customer: c\n    region: r-x\n    plant: p\n    zone: z\n  b: { customer: c, region: r, plant: p, zone: z }\n  c: { customer: c, region: r, plant: p, zone: z }\n');
    const message = messageOf(() => parseScenarioText(scenario('a', 'dataset: { path: d.yaml, version: v1 }'), 's.yaml', siteCatalogue(file)));
    expect(message).toContain(`site "a": the catalogue is not usable: ${file}: invalid site catalogue`);
    expect(message).toMatch(/sites\.a\.region: expected a region .* \(line 4\)/);
    expect(message).toMatch(/sites\.c: c\/r-p\/z is already named b: each site is named once \(line 8\)/);
  });

  it('relative default dataset paths are taken from the catalogue’s folder; the file is found by flag, GF_SITES_FILE, then ./sites.yaml', async () => {
    const file = path.join(dir, 'sites.yaml');
    await writeFile(file, 'sites:\n  lab: { customer: c, region: r, plant: p, zone: z, dataset: { path: data/d.yaml, version: v1 } }\n');
    const scenarioFile = path.join(dir, 'sub', 's.yaml');
    await mkdir(path.dirname(scenarioFile), { recursive: true });
    await writeFile(scenarioFile, scenario('lab'));
    const { scenario: s } = await loadScenarioFile(scenarioFile, { checkFiles: false, sites: siteCatalogue(file) });
    expect(s.dataset.path).toBe(path.join(dir, 'data/d.yaml'));
    expect(siteCatalogueFile('x.yaml', { GF_SITES_FILE: '/etc/s.yaml' }, '/w')).toBe('/w/x.yaml');
    expect(siteCatalogueFile(undefined, { GF_SITES_FILE: '/etc/s.yaml' }, '/w')).toBe('/etc/s.yaml');
    expect(siteCatalogueFile(undefined, {}, '/w')).toBe('/w/sites.yaml');
  });
});

describe('site catalogue in experiments.yaml and optimizer policies', () => {
  it('an experiments.yaml entry may name its site', () => {
    const registry = parseRegistryText('experiments:\n  a:\n    path: /tmp\n    site: sampyo-gimhae-bct\n    task: { type: ppe }\n    entry_points: { train: { default: t.py } }\n', 'e.yaml', EXAMPLE);
    expect(registry.experiments.a.site).toEqual({ customer: 'sampyo', region: 'gimhae', plant: 'plant1', zone: 'bct' });
    const message = messageOf(() => parseRegistryText('experiments:\n  a:\n    path: /tmp\n    site: sampyo-gimhae\n    task: { type: ppe }\n    entry_points: { train: { default: t.py } }\n', 'e.yaml', EXAMPLE));
    expect(message).toContain('experiments.a.site: unknown site "sampyo-gimhae" in');
    expect(message).toContain('did you mean sampyo-gimhae-bct? (line 4)');
  });

  const policy = (site: string) => `rules:
  - name: r
    when: { metric: mAP50, comparison: "<", threshold: 0.75, scope: { site: ${site} } }
    action: { type: batch_up, factor: 2 }
    cooldown: 1h
`;

  it('a rule’s scope may name a site; globs stay globs', () => {
    expect(parsePolicyText(policy('donghwa-busan-welding'), 'p.yaml', EXAMPLE).rules[0].when.scope.site).toBe('donghwa-entec/busan-plant1/welding');
    expect(parsePolicyText(policy('"donghwa-entec/*/welding"'), 'p.yaml', EXAMPLE).rules[0].when.scope.site).toBe('donghwa-entec/*/welding');
    expect(messageOf(() => parsePolicyText(policy('donghwa-busan-weld'), 'p.yaml', EXAMPLE))).toContain('rules.0.when.scope.site: unknown site "donghwa-busan-weld"');
  });
});
