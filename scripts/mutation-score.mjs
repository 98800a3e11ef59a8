// Reads Stryker's JSON report and writes bench/results/mutation.json: the score of each mutated
// module and in all, against the goal. Exits 1 when the score is below the goal, so the script
// tells at once whether the tests are strong enough.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';

const GOAL = 0.85;
const report = JSON.parse(readFileSync('reports/mutation/mutation.json', 'utf8'));
const DETECTED = new Set(['Killed', 'Timeout']);
const COUNTED = new Set(['Killed', 'Timeout', 'Survived', 'NoCoverage']);

const tally = (mutants) => {
  const counted = mutants.filter((m) => COUNTED.has(m.status));
  const killed = counted.filter((m) => DETECTED.has(m.status)).length;
  return { mutants: counted.length, killed, survived: counted.length - killed, score: counted.length ? killed / counted.length : 1 };
};

/** Static mutants left out (stryker.config.mjs `ignoreStatic`): not in the score, but counted here. */
const ignored = (mutants) => mutants.filter((m) => m.status === 'Ignored').length;

const files = Object.entries(report.files).map(([path, f]) => ({
  path,
  ...tally(f.mutants),
  ignored: ignored(f.mutants),
  survivors: f.mutants.filter((m) => m.status === 'Survived' || m.status === 'NoCoverage').map((m) => `${m.location.start.line}: ${m.mutatorName} ${JSON.stringify(m.replacement ?? '')}`),
}));
const everyMutant = Object.values(report.files).flatMap((f) => f.mutants);
const all = tally(everyMutant);
const result = { date: new Date().toISOString(), goal: GOAL, ...all, ignored: ignored(everyMutant), met: all.score >= GOAL, files };

mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/mutation.json', JSON.stringify(result, null, 2) + '\n');
for (const f of files) console.log(`${(f.score * 100).toFixed(1).padStart(5)} %  ${String(f.killed).padStart(4)}/${String(f.mutants).padEnd(4)} ${f.path}`);
console.log(`mutation score ${(all.score * 100).toFixed(1)} % (${all.killed}/${all.mutants} killed${result.ignored ? `; ${result.ignored} static mutants not counted` : ''}), goal ≥ ${GOAL * 100} %: ${result.met ? 'met' : 'NOT met'}`);
process.exit(result.met ? 0 : 1);
