import { Worker } from '@temporalio/worker';
import { CREATED_WORKERS } from './worker-leaks';

/**
 * jest `setupFilesAfterEnv` of the projects that run Temporal workers: records each worker the
 * test file creates (tests and the product's worker factories alike call `Worker.create`), for
 * `stack-environment.ts` to check when the file ends.
 */
const created: Worker[] = [];
(globalThis as Record<symbol, unknown>)[CREATED_WORKERS] = created;
const create = Worker.create.bind(Worker);
jest.spyOn(Worker, 'create').mockImplementation(async (options) => {
  const worker = await create(options);
  created.push(worker);
  return worker;
});
