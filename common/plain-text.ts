/**
 * Failure messages as plain text. Executors and wrapped scripts run ultralytics, which colours its
 * console output and redraws progress bars with carriage returns; copied into a failure message,
 * MLflow, `gflow status` and the Temporal UI would show `\x1b[31m` and a screen of half bars.
 * Pure: workflows may import it.
 */

// CSI sequences (colours, cursor moves), OSC sequences (titles, links) and two-byte escapes
// eslint-disable-next-line no-control-regex
const ANSI = /\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[@-Z\\-_])/g;

/** The text without terminal control sequences; of a line redrawn with `\r`, what was left on screen. */
export function plainText(text: string): string {
  return text
    .replace(ANSI, '')
    .split('\n')
    .map((line) => (line.replace(/\r+$/, '').split('\r').pop() ?? '').trimEnd())
    .join('\n')
    .trim();
}

/** The last `count` non-blank lines of some output, as plain text: where a traceback says what went wrong. */
export function lastLines(text: string, count: number): string {
  return plainText(text)
    .split('\n')
    .filter((line) => line.trim() !== '')
    .slice(-count)
    .join('\n');
}
