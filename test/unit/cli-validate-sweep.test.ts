import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CliError } from '../../cli/cli-error';
import { buildProgram } from '../../cli/gflow';
import { loadSettings } from '../../common/settings';

/** `gflow validate` on a sweep (issue 15 item 2): what will run, before any GPU time; a partial grid exits 2. */

const BASE = `
name: t
version: v1
type: train
design: sweep
site: { customer: c, region: r, plant: p, zone: z }
task: { type: ppe, classes: [helmet] }
model: { architecture: yolov8n.yaml, input_size: 64 }
dataset: { path: d.yaml, version: v1 }
training: { epochs: 3, batch_size: 16, learning_rate: 0.01, min_batch_size: 4 }
`;
const GRID_81 = '{ learning_rate: [0.001, 0.01, 0.1], batch_size: [8, 16, 32], epochs: [1, 2, 3], optimizer: [SGD, Adam, AdamW] }';

describe('gflow validate on a sweep', () => {
  it('gflow validate prints the trials and combinations before anything starts, and refuses a partial grid with exit 2', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'gflow-space-'));
    try {
      const file = path.join(dir, 'grid.yaml');
      // port 1: a command that tried to reach Temporal would fail differently
      const gflow = (...args: string[]) => buildProgram(loadSettings({ TEMPORAL_ADDRESS: '127.0.0.1:1' })).exitOverride().parseAsync(['node', 'gflow', ...args]);
      const printed: string[] = [];
      const log = jest.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void printed.push(args.join(' ')));
      try {
        await writeFile(file, `${BASE}sweep: { parameters: ${GRID_81}, parallel: 4 }\n`);
        await gflow('validate', file, '--no-check-files');
        await writeFile(file, `${BASE}sweep: { parameters: ${GRID_81}, max_runs: 50 }\n`);
        const err = await gflow('validate', file, '--no-check-files').catch((e: unknown) => e);
        expect(err).toBeInstanceOf(CliError);
        expect((err as CliError).exitCode).toBe(2);
        expect((err as CliError).message).toContain("sweep.max_runs: 50 is fewer than the grid's 81 combinations");
      } finally {
        log.mockRestore();
      }
      expect(printed.join('\n')).toContain('  sweep:      81 trials of 81 combinations (grid, every combination), 4 at a time');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

});
