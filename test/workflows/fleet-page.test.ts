import { mkdtemp, readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import type { FastifyInstance } from 'fastify';
import type { Browser, Page } from 'playwright-core';
import { MlflowClient } from '../../activities/tracking/mlflow-client';
import { launchChromium, registerScreenshotCommand } from '../../cli/screenshot-command';
import { loadSettings } from '../../common/settings';
import { FleetStore, NO_RULES_FILE } from '../../fleet';
import { buildFleetServer } from '../../server/app';
import { ALPHA, at, BETA, GAMMA, MINE, tag, utcDay, writeTestFleet, type WrittenFleet } from '../support/fleet-fixture';

/**
 * The fleet page in a real browser (Debian's chromium through playwright-core) against the fleet
 * server over the test fleet in the real MLflow (test/support/fleet-fixture.ts): the rows, their
 * numbers and sparklines, alerts, links, the customer filter through the API and the page's URL,
 * the empty and error states, and the screenshot command. Expected values are those the fixture
 * wrote, as literals. No chromium is a failure, not a skip.
 */

jest.setTimeout(180_000);

const settings = loadSettings();
const mlflow = new MlflowClient(settings.mlflow.url);

let browser: Browser;
let app: FastifyInstance;
let base: string;
let fleet: WrittenFleet;
let dir: string;

beforeAll(async () => {
  browser = await launchChromium();
  dir = await mkdtemp(path.join(os.tmpdir(), 'gf-fleet-page-'));
  fleet = await writeTestFleet(mlflow);
  const store = new FleetStore({ mlflow, cacheFile: path.join(dir, 'fleet.json'), mlflowUrl: settings.mlflow.url });
  const { snapshot } = await store.refresh();
  app = await buildFleetServer({
    snapshot: () => Promise.resolve(snapshot),
    rules: NO_RULES_FILE,
    links: { mlflowUrl: settings.mlflow.uiUrl, temporalUiUrl: settings.temporal.uiUrl, namespace: settings.temporal.namespace },
    publicDir: path.join(settings.repoRoot, 'server', 'public'),
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/`;
});

afterAll(async () => {
  await browser?.close();
  await app?.close();
});

/** A fresh page at `query`, once it has drawn everything (or shown its empty or error state). */
async function open(query = ''): Promise<Page> {
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  await page.goto(`${base}${query}`);
  await page.waitForSelector('body[data-state="ready"], body[data-state="empty"], body[data-state="error"]');
  expect(errors).toEqual([]);
  return page;
}

/** The table as text: [site, task, champion, mAP50, p95, open alerts], this test's customers only. */
async function rowsOf(page: Page): Promise<string[][]> {
  const rows = await Promise.all((await page.locator('#fleet tbody tr').all()).map((tr) => tr.locator('th, td').allTextContents()));
  return rows.map((cells) => cells.map((c) => c.trim())).filter((r) => MINE.has(r[0].split('/')[0])).map((r) => [r[0], r[1], r[2], r[3], r[4], r[6]]);
}

/** [site, task] of every row shown. */
async function siteTasksShown(page: Page): Promise<(string | null)[][]> {
  return Promise.all((await page.locator('#fleet tbody tr').all()).map(async (tr) => [await tr.getAttribute('data-site'), await tr.getAttribute('data-task')]));
}

const row = (page: Page, site: string, task: string) => page.locator(`#fleet tbody tr[data-site="${site}"][data-task="${task}"]`);

it('shows every site task of the fleet: champion, mAP50, latency p95 and open alerts as written', async () => {
  const page = await open();
  expect(await page.getAttribute('body', 'data-state')).toBe('ready');
  expect(await rowsOf(page)).toEqual([
    [`alpha-${tag}/north-p1/weld`, 'fall', 'v2', '0.820', '20.0', '0'],
    [`alpha-${tag}/north-p1/weld`, 'ppe', 'v2', '0.820', '20.0', '0'],
    [`alpha-${tag}/north-p2/paint`, 'fall', 'v2', '0.820', '45.0', '1 warning'],
    [`alpha-${tag}/north-p2/paint`, 'ppe', 'v2', '0.820', '20.0', '0'],
    [`beta-${tag}/south-p1/dock`, 'fall', 'v2', '0.820', '20.0', '0'],
    [`beta-${tag}/south-p1/dock`, 'ppe', 'v2', '0.720', '20.0', '2 critical'],
    [`beta-${tag}/south-p1/yard`, 'fall', 'v2', '0.820', '20.0', '0'],
    [`beta-${tag}/south-p1/yard`, 'ppe', 'v2', '0.820', '20.0', '0'],
    [`gamma-${tag}/east-p1/kiln`, 'fall', 'v2', '0.820', '20.0', '0'],
    [`gamma-${tag}/east-p1/kiln`, 'ppe', 'none', '–', '–', '0'],
    [`gamma-${tag}/east-p3/lab`, 'fall', 'v2', '0.820', '20.0', '1 info'],
    [`gamma-${tag}/east-p3/lab`, 'ppe', 'v2', '0.820', '20.0', '0'],
  ]);
  // the dock's champion is below 0.75 and 0.18 below its predecessor: both alerts, worst first, on hover
  expect(await row(page, `beta-${tag}/south-p1/dock`, 'ppe').locator('td.alerts').getAttribute('title')).toBe(
    [`critical LOW_ACCURACY: beta-${tag}.south-p1.dock.ppe v2: mAP50 0.720 below 0.75`, `warning ACCURACY_DROP: beta-${tag}.south-p1.dock.ppe v2: mAP50 0.720 is 0.180 below the previous champion v1 (0.900)`].join('\n'),
  );
  // accessible table: a caption, column and row headers
  expect(await page.textContent('#fleet caption')).toMatch(/^\d+ site tasks$/);
  expect(await page.locator('#fleet thead th[scope="col"]').count()).toBe(8);
  expect(await page.locator('#fleet tbody th[scope="row"]').count()).toBe(await page.locator('#fleet tbody tr').count());
  await page.close();
});

it('draws each row’s mAP50 per day as a sparkline, champion days dotted', async () => {
  const page = await open();
  const weld = row(page, `alpha-${tag}/north-p1/weld`, 'ppe').locator('td.trend svg');
  // runs 6, 4 (two), 3 and 1 days ago: four days, the middle two with a champion run
  expect(await weld.getAttribute('aria-label')).toBe(
    `det.mAP50 per day: ${utcDay(at(6, 9))} 0.700, ${utcDay(at(4, 9))} 0.780 (champion), ${utcDay(at(3, 9))} 0.820 (champion), ${utcDay(at(1, 9))} 0.850`,
  );
  expect((await weld.locator('polyline').getAttribute('points'))!.split(' ')).toHaveLength(4);
  expect(await weld.locator('circle.champion').count()).toBe(2);
  // the kiln's ppe has one run, no champion
  const kiln = row(page, `gamma-${tag}/east-p1/kiln`, 'ppe').locator('td.trend svg');
  expect(await kiln.getAttribute('aria-label')).toBe(`det.mAP50 per day: ${utcDay(at(6, 9))} 0.700`);
  expect([await kiln.locator('circle.champion').count(), await kiln.locator('circle.only').count()]).toEqual([0, 1]);
  expect(await page.locator('#fleet tbody td.trend[aria-busy]').count()).toBe(0);
  await page.close();
});

it('links each row to its champion’s MLflow run and version, and to the site’s workflows in the Temporal Web UI', async () => {
  const page = await open();
  const weld = row(page, `alpha-${tag}/north-p1/weld`, 'ppe');
  const [, train, , benchmark] = fleet.written.get(`alpha-${tag}/north-p1/weld ppe`)!;
  expect(await weld.locator('a.mlflow-run').getAttribute('href')).toBe(`${settings.mlflow.uiUrl}/#/runs/${train}`);
  expect(await weld.locator('a.mlflow-benchmark').getAttribute('href')).toBe(`${settings.mlflow.uiUrl}/#/runs/${benchmark}`);
  expect(await weld.locator('td:nth-child(3) a').getAttribute('href')).toBe(`${settings.mlflow.uiUrl}/#/models/alpha-${tag}.north-p1.weld.ppe/versions/2`);
  expect(await weld.locator('a.temporal').getAttribute('href')).toBe(`${settings.temporal.uiUrl}/namespaces/default/workflows?query=GfSite%3D%22alpha-${tag}%2Fnorth-p1%2Fweld%22`);
  // no champion: no MLflow run link, the workflows still
  const kiln = row(page, `gamma-${tag}/east-p1/kiln`, 'ppe');
  expect(await kiln.locator('a').allTextContents()).toEqual(['workflows']);
  await page.close();
});

it('filters by customer through the API’s query and the page’s own URL, which links back to the same view', async () => {
  const page = await open();
  expect(await Promise.all((await page.locator('#customer option').all()).map((o) => o.getAttribute('value')))).toEqual(expect.arrayContaining(['', ALPHA, BETA, GAMMA]));
  const asked: string[] = [];
  page.on('request', (request) => asked.push(request.url()));
  await page.selectOption('#customer', BETA);
  await page.waitForURL(`${base}?customer=${BETA}`);
  await page.waitForSelector('body[data-state="ready"]');
  expect(await siteTasksShown(page)).toEqual([
    [`beta-${tag}/south-p1/dock`, 'fall'],
    [`beta-${tag}/south-p1/dock`, 'ppe'],
    [`beta-${tag}/south-p1/yard`, 'fall'],
    [`beta-${tag}/south-p1/yard`, 'ppe'],
  ]);
  expect(asked).toEqual(expect.arrayContaining([`${base}api/metrics/summary?customer=${BETA}`, `${base}api/metrics/alerts?customer=${BETA}`]));
  await page.close();

  // the linked view: customer and task from the URL, the selects showing them
  const linked = await open(`?customer=${GAMMA}&task=fall`);
  expect(await siteTasksShown(linked)).toEqual([
    [`gamma-${tag}/east-p1/kiln`, 'fall'],
    [`gamma-${tag}/east-p3/lab`, 'fall'],
  ]);
  expect([await linked.inputValue('#customer'), await linked.inputValue('#task')]).toEqual([GAMMA, 'fall']);
  expect(await linked.textContent('#fleet caption')).toBe(`2 site tasks (customer gamma-${tag}, task fall)`);
  await linked.close();
});

it('says so in text when nothing matches, when the API refuses the filter, and when it cannot be reached', async () => {
  const empty = await open(`?customer=nobody-${tag}`);
  expect([await empty.getAttribute('body', 'data-state'), await empty.isVisible('#fleet'), await empty.textContent('#status')]).toEqual(['empty', false, `No site task matches (customer nobody-${tag}).`]);
  await empty.close();

  const refused = await open('?task=welding');
  expect(await refused.getAttribute('body', 'data-state')).toBe('error');
  expect(await refused.textContent('#status')).toBe('The fleet API answered 400 for /api/metrics/summary: task: expected one of ppe, fall, fire, collision, stuck, got "welding"');
  await refused.close();

  const page = await browser.newPage();
  await page.route('**/api/**', (route) => route.abort('connectionrefused'));
  await page.goto(base);
  await page.waitForSelector('body[data-state="error"]');
  expect([await page.isVisible('#fleet'), await page.getAttribute('#status', 'role')]).toEqual([false, 'alert']);
  expect(await page.textContent('#status')).toMatch(/^Cannot reach the fleet API at http:\/\/127\.0\.0\.1:\d+ \(Failed to fetch\)\. Is the server running\?$/);
  await page.close();
});

it('gflow metrics screenshot writes a PNG of the whole page, and refuses a page that shows an error', async () => {
  // GF_FLEET_PAGE_PNG=docs/fleet-page.png renews the README's picture from this fleet
  const output = process.env.GF_FLEET_PAGE_PNG ? path.resolve(process.env.GF_FLEET_PAGE_PNG) : path.join(dir, 'shots', 'fleet.png');
  const gflow = (...args: string[]) => {
    const program = new Command().exitOverride();
    registerScreenshotCommand(program.command('metrics'), settings);
    return program.parseAsync(['node', 'gflow', 'metrics', 'screenshot', ...args]);
  };
  const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
  try {
    await gflow('--output', output, '--url', base);
    expect(log).toHaveBeenCalledWith(`${output}: ${base}`);
  } finally {
    log.mockRestore();
  }
  const png = await readFile(output);
  // the PNG signature, then the IHDR chunk: width and height, big-endian
  expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  // 1280 pixels wide by default (no wider: the table fits), as high as the twelve rows at least
  expect(png.readUInt32BE(16)).toBe(1280);
  expect(png.readUInt32BE(20)).toBeGreaterThan(500);

  await expect(gflow('--output', path.join(dir, 'bad.png'), '--url', `${base}?task=welding`)).rejects.toThrow(
    'the fleet page shows an error: The fleet API answered 400 for /api/metrics/summary: task: expected one of ppe, fall, fire, collision, stuck, got "welding"',
  );
  await expect(gflow('--output', path.join(dir, 'y.png'), '--url', base, '--chromium', path.join(dir, 'no-chromium'))).rejects.toThrow(`chromium not found at ${path.join(dir, 'no-chromium')}`);
  await expect(gflow('--output', path.join(dir, 'x.jpg'), '--url', base)).rejects.toThrow('--output: expected a .png file, got "' + path.join(dir, 'x.jpg') + '"');
});
