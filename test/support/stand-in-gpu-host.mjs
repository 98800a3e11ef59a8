// A GPU host's worker process exactly as `node dist/workers/gpu.js` runs it (settings from the
// environment: GF_GPU_HOST_ID, GF_WORK_DIR, TEMPORAL_*, MLFLOW_*, AWS_*; its record in the pool,
// drains), except that its jobs run the stand-in executors of test/fixtures (seconds, no model):
// scripts/prod-check.sh starts two of these as two hosts to pass a pipeline and a sweep through
// the production topology quickly, and the drain tests drain them.
// Plain ES module on the compiled tree, so the script needs no build step of its own.
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { runGpuHost } = require(path.join(repo, 'dist/workers/gpu.js'));

const fixtures = path.join(repo, 'test/fixtures');
await runGpuHost({
  label: ' (stand-in executors)',
  executors: { train: path.join(fixtures, 'fake_executor.py'), export: path.join(fixtures, 'fake_quant.py'), benchmark: path.join(fixtures, 'fake_quant.py') },
});
process.exit(0);
