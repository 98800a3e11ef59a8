import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import type { Browser } from 'playwright-core';
import { urlHost, type Settings } from '../common/settings';
import { CliError } from './cli-error';

/**
 * `gflow metrics screenshot`: the running fleet page as a PNG (the README's picture, or one for a
 * report), through Debian's chromium driven by playwright-core. Nothing is downloaded: the browser
 * is the system's (scripts/setup.sh installs it), and the page needs no network beyond its server.
 */

/** Debian's chromium; `--chromium` or `GF_CHROMIUM` names another. */
const DEFAULT_CHROMIUM = '/usr/bin/chromium';

/**
 * Headless, no sandbox (containers and CI run as root), and nothing that calls out: no QUIC,
 * no background fetches, component updates or sync, so it behaves the same offline.
 */
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** The page's `<body data-state>` once it has drawn everything (server/public/fleet.js). */
const DONE_STATES = ['ready', 'empty', 'error'] as const;

/**
 * Starts headless chromium with a fresh temporary profile (playwright's `launch` makes one per
 * browser and removes it on close). A missing browser is an error naming the path, never a
 * silent fallback: the tests that need a browser must fail where there is none.
 */
export async function launchChromium(executablePath: string = DEFAULT_CHROMIUM): Promise<Browser> {
  if (!existsSync(executablePath)) throw new CliError(`chromium not found at ${executablePath}: install Debian's chromium (bash scripts/setup.sh) or give --chromium PATH`, 1);
  const { chromium } = await importPlaywright();
  return chromium.launch({ executablePath, headless: true, args: CHROMIUM_ARGS });
}

/** playwright-core is loaded only by the commands that drive a browser, so the rest of the CLI starts without it. */
async function importPlaywright(): Promise<typeof import('playwright-core')> {
  try {
    return await import('playwright-core');
  } catch (err) {
    throw new CliError('the npm package playwright-core is not installed (a development dependency: npm ci without --omit=dev)', 1, { cause: err });
  }
}

export interface ScreenshotOptions {
  url: string;
  output: string;
  executablePath?: string;
  /** Viewport width in CSS pixels; the height grows to the whole page. */
  width?: number;
  timeoutMs?: number;
}

/**
 * Opens the fleet page, waits until it has drawn its rows and sparklines, and writes a full-page
 * PNG. A page that shows its error state (the API cannot be reached or refused the filter) is
 * refused with the page's own message rather than pictured.
 */
export async function screenshotFleetPage(options: ScreenshotOptions): Promise<void> {
  const timeout = options.timeoutMs ?? 30_000;
  const browser = await launchChromium(options.executablePath);
  try {
    // a low viewport: the full-page picture is as high as the content, not padded to a screen
    const page = await browser.newPage({ viewport: { width: options.width ?? 1280, height: 240 } });
    try {
      await page.goto(options.url, { timeout });
    } catch (err) {
      throw new CliError(`cannot open the fleet page at ${options.url}: ${firstLine(err)} (is the fleet server running? gflow dev up)`, 1, { cause: err });
    }
    const done = DONE_STATES.map((s) => `body[data-state="${s}"]`).join(', ');
    try {
      await page.waitForSelector(done, { timeout });
    } catch (err) {
      throw new CliError(`${options.url} is not the fleet page, or it did not finish drawing in ${timeout / 1000} s: ${firstLine(err)}`, 1, { cause: err });
    }
    if ((await page.getAttribute('body', 'data-state')) === 'error') throw new CliError(`the fleet page shows an error: ${(await page.textContent('#status'))?.trim()}`, 1);
    await mkdir(path.dirname(path.resolve(options.output)), { recursive: true });
    await page.screenshot({ path: options.output, fullPage: true });
  } finally {
    await browser.close();
  }
}

const firstLine = (err: unknown) => (err instanceof Error ? err.message : String(err)).split('\n')[0];

/** Where `gflow serve` (and `gflow dev up`) serve the fleet page. */
function fleetPageUrl(settings: Settings): string {
  return `http://${urlHost(settings.host)}:${settings.fleet.port}/`;
}

/** Adds `screenshot` to the `gflow metrics` command group. */
export function registerScreenshotCommand(metrics: Command, settings: Settings): void {
  metrics
    .command('screenshot')
    .description('open the running fleet page in chromium and write a PNG of it')
    .requiredOption('--output <file.png>', 'the PNG to write (folders created)')
    .option('--url <url>', 'the fleet page (default: gflow serve’s address, GF_HOST and GF_FLEET_PORT)', fleetPageUrl(settings))
    .option('--chromium <path>', 'the chromium executable', process.env.GF_CHROMIUM ?? DEFAULT_CHROMIUM)
    .option('--width <px>', 'viewport width in pixels', '1280')
    .action(async (opts: { output: string; url: string; chromium: string; width: string }) => {
      if (!opts.output.toLowerCase().endsWith('.png')) throw new CliError(`--output: expected a .png file, got ${JSON.stringify(opts.output)}`, 2);
      const width = Number(opts.width);
      if (!Number.isInteger(width) || width < 320 || width > 7680) throw new CliError(`--width: expected whole pixels from 320 to 7680, got ${JSON.stringify(opts.width)}`, 2);
      let url: URL;
      try {
        url = new URL(opts.url);
      } catch {
        throw new CliError(`--url: not a URL: ${JSON.stringify(opts.url)}`, 2);
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new CliError(`--url: expected http or https, got ${JSON.stringify(opts.url)}`, 2);
      await screenshotFleetPage({ url: url.href, output: opts.output, executablePath: opts.chromium, width });
      console.log(`${opts.output}: ${url.href}`);
    });
}
