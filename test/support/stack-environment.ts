import type { Circus } from '@jest/types';
import { TestEnvironment } from 'jest-environment-node';
import type { Worker } from '@temporalio/worker';
import { CREATED_WORKERS, stopLeakedWorkers } from './worker-leaks';

/**
 * The Node test environment of the projects that run Temporal workers: after every `afterAll`
 * of a file has run, workers the file left running are shut down and the file fails, naming them
 * (worker-leaks.ts says why). A failure thrown here fails the file, as an `afterAll` cannot: a
 * set-up file's hooks run before the test file's own, which may still stop their workers.
 */
export default class StackEnvironment extends TestEnvironment {
  async handleTestEvent(event: Circus.AsyncEvent): Promise<void> {
    if (event.name !== 'run_finish') return;
    const workers = (this.global as Record<symbol, unknown>)[CREATED_WORKERS] as Worker[] | undefined;
    const leaked = await stopLeakedWorkers(workers ?? []);
    if (leaked) throw new Error(leaked);
  }
}
