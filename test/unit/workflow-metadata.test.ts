import { BatchPhase, PromotionPhase } from '../../common/contract';
import {
  bounded,
  legacyMetadata,
  MAX_DETAILS,
  MAX_SUMMARY,
  oneLine,
  optimizerActionMetadata,
  optimizerMetadata,
  paramsLine,
  promotionMetadata,
  registryMoveMetadata,
  scenarioMetadata,
} from '../../common/workflow-metadata';
import { Decision, type RuleDecision } from '../../optimizer/decide';
import { parseScenarioText } from '../../scenarios/loader';
import { comparisonCurrentDetails, optimizerCurrentDetails, pipelineCurrentDetails, promotionCurrentDetails, sweepCurrentDetails } from '../../workflows/current-details';

const sweepScenario = parseScenarioText(`
name: ppe-welding-sweep
version: v2
type: train
design: sweep
site: { customer: donghwa-entec, region: busan, plant: plant1, zone: welding }
task: { type: ppe, classes: [helmet, vest] }
model: { architecture: yolov8n.yaml, input_size: 640 }
dataset: { path: /data/ppe/data.yaml, version: v1.2 }
training: { epochs: 50, batch_size: 16, learning_rate: 0.01 }
sweep: { parameters: { learning_rate: [0.001, 0.01], batch_size: [8, 16] }, max_runs: 4, parallel: 2, metric: det.mAP50 }
`);
const links = { mlflow: 'http://mlflow.test:5000', fleet: 'http://fleet.test:8300/' };

describe('static summary and details', () => {
  it('a scenario: one line of design, site, task, model, version; details with its essentials and links', () => {
    const { staticSummary, staticDetails } = scenarioMetadata(sweepScenario, { links });
    expect(staticSummary).toBe('sweep train · donghwa-entec/busan-plant1/welding · ppe · yolov8n · v2');
    expect(staticDetails).toContain('**sweep train** · task `ppe` (helmet, vest) at `donghwa-entec/busan-plant1/welding` · version `v2`\n\n- model `yolov8n.yaml`');
    expect(staticDetails).toContain('- dataset `/data/ppe/data.yaml` · version `v1.2`');
    expect(staticDetails).toContain('- sweep: grid over learning_rate, batch_size · at most 4 runs, 2 at a time · `det.mAP50` (maximize)');
    expect(staticDetails).toContain('- fleet page: [donghwa-entec · ppe](http://fleet.test:8300/?customer=donghwa-entec&task=ppe)');
    // the experiment does not exist before the workflow runs: named, not linked
    expect(staticDetails).toContain('- MLflow: experiment `donghwa-entec/busan-plant1/welding`');
  });

  it('a child: its role first, and links to the experiment and parent run it runs under', () => {
    const { staticSummary, staticDetails } = scenarioMetadata(sweepScenario, { links, role: `trial 7 · ${paramsLine({ learning_rate: 0.01, batch_size: 16 })}`, mlflow: { experimentId: '12', runId: 'abc', runLabel: 'parent run' } });
    expect(staticSummary).toBe('trial 7 · lr=0.01 bs=16 · sweep train · donghwa-entec/busan-plant1/welding · ppe · yolov8n · v2');
    expect(staticDetails).toContain('MLflow: experiment [donghwa-entec/busan-plant1/welding](http://mlflow.test:5000/#/experiments/12) · parent run [abc](http://mlflow.test:5000/#/experiments/12/runs/abc)');
  });

  it('without UI addresses nothing is linked', () => {
    const { staticDetails } = scenarioMetadata(sweepScenario, { mlflow: { experimentId: '12', runId: 'abc' } });
    expect(staticDetails).not.toMatch(/\]\(/);
    expect(staticDetails).toContain('fleet page: `donghwa-entec · ppe`');
  });

  it('summaries stay on one bounded line, details bounded at a line end', () => {
    expect(oneLine('a\nb   c')).toBe('a b c');
    const long = oneLine('x'.repeat(500));
    expect([long.length, long.endsWith('…')]).toEqual([MAX_SUMMARY, true]);
    const cut = bounded(Array.from({ length: 1000 }, (_, i) => `line ${i}`).join('\n'));
    expect(cut.length).toBeLessThanOrEqual(MAX_DETAILS);
    expect(cut.endsWith('\n…')).toBe(true);
    expect(cut.split('\n').slice(-2)[0]).toMatch(/^line \d+$/);
    expect(paramsLine({ architecture: 'models/yolov8s.yaml', seed: 3 })).toBe('arch=yolov8s seed=3');
  });

  it('every other workflow the product starts has a summary and details', () => {
    const legacy = legacyMetadata(
      { name: 'acme-ppe', type: 'train', version: 'w1', params: { epochs: '3' }, entry: { path: '/exp/acme-ppe', site: sweepScenario.site, task: { type: 'ppe' } } },
      links,
    );
    expect(legacy.staticSummary).toBe('legacy train · donghwa-entec/busan-plant1/welding · ppe · default entry point · w1');
    expect(legacy.staticDetails).toContain('parameters: `epochs=3`');

    const move = registryMoveMetadata({ model: 'acme.ppe', op: 'promote', version: '3', by: 'user:alice', reason: 'better' }, links);
    expect(move.staticSummary).toBe('promote acme.ppe v3 · by user:alice');
    expect(move.staticDetails).toContain('[v3](http://mlflow.test:5000/#/models/acme.ppe/versions/3)');

    const promotion = promotionMetadata({
      model: 'acme.ppe',
      version: '4',
      gate: { promote: true, reason: 'det.mAP50=0.85 vs champion v2 0.80' },
      promotion: { approval: 'required', approval_timeout: '72h', soak: '24h', soak_check_every: '1h', rollback_when: [{ metric: 'sys.latency_ms_p95', comparison: '>', threshold: 30 }] },
    });
    expect(promotion.staticSummary).toBe('guarded promotion · acme.ppe v4 · gate passed · approval within 72h · soak 24h');
    expect(promotion.staticDetails).toContain('rolled back when `sys.latency_ms_p95 > 30`');

    expect(optimizerMetadata({ policyFile: '/etc/gf/optimizer.yaml', every: '6h' }).staticSummary).toBe('optimizer check · /etc/gf/optimizer.yaml · every 6h');
    const action = optimizerActionMetadata(
      { workflowType: 'sweep', scenario: sweepScenario },
      { name: 'low-accuracy-retrain', action: { type: 'sweep_retrain' }, when: { metric: 'det.mAP50', comparison: '<', threshold: 0.75 }, promotion: { approval: 'required' } },
      links,
    );
    expect(action.staticSummary).toBe('optimizer sweep_retrain · donghwa-entec/busan-plant1/welding · ppe · yolov8n · v2');
    expect(action.staticDetails).toContain('rule `low-accuracy-retrain` (`det.mAP50 < 0.75`)');
  });
});

describe('current details', () => {
  const batch = { phase: BatchPhase.running, experimentId: '12', runId: 'parent1', metric: 'det.mAP50', total: 40, running: 2, queued: 1, done: 8, failed: 1, stopped: 1 };

  it('a sweep: counts, and the best so far with its parameters and run', () => {
    expect(sweepCurrentDetails(batch, 13, links)).toBe(
      [
        '**running** · 13 of 40 trials started: 8 done · 2 running · 1 queued · 1 failed · 1 stopped early',
        'best so far: none yet (`det.mAP50`)',
        'parent run: [parent1](http://mlflow.test:5000/#/experiments/12/runs/parent1)',
      ].join('\n'),
    );
    const best = sweepCurrentDetails({ ...batch, best: { index: 7, runId: 'r7', value: 0.821349, params: { learning_rate: 0.01, batch_size: 16 } } }, 13);
    expect(best).toContain('best so far: `det.mAP50` = 0.8213, trial 7 (`lr=0.01 bs=16`) · `run`');
  });

  it('a comparison: arms ended and the leader', () => {
    expect(comparisonCurrentDetails({ ...batch, total: 3, done: 1, running: 1, failed: 0 }, { label: 'arm 0 (architecture=yolov8n)', value: 0.8 })).toBe(
      '**running** · 1 of 3 arms ended: 1 done · 1 running · 0 failed\nleader: arm 0 (architecture=yolov8n) with `det.mAP50` = 0.8\nparent run: `parent1`',
    );
  });

  it('a pipeline: the stage and each finished stage’s result', () => {
    expect(pipelineCurrentDetails({ phase: 'quantizing', runId: 'p1' }, [{ stage: 'train', result: 'run r1 · `det.mAP50` = 0.8' }])).toBe('**stage: quantizing**\n\n- train: run r1 · `det.mAP50` = 0.8\n\nparent run: `p1`');
  });

  it('an optimizer check: counts, started decisions first, at most 20 listed', () => {
    const decision = (i: number, kind: Decision): RuleDecision => ({
      rule: 'r',
      siteKey: `c/r-p/z${i}`,
      site: sweepScenario.site,
      task: 'ppe',
      metric: 'det.mAP50',
      comparison: '<',
      threshold: 0.75,
      value: 0.5,
      champion: { name: 'm', version: '1' },
      decision: kind,
      action: 'batch_up',
      workflowId: kind === Decision.started ? `gf/optimizer/r/z${i}/1` : null,
      cooldownUntil: null,
    });
    const many = [...Array.from({ length: 30 }, (_, i) => decision(i, Decision.cooldown)), decision(99, Decision.started)];
    const text = optimizerCurrentDetails('finished', many, { experimentId: '3', runId: 'chk' }, links);
    const lines = text.split('\n');
    expect(lines[0]).toBe('**finished** · 31 decisions: 30 cooldown · 1 started');
    expect(lines[2]).toBe('- r · c/r-p/z99 · ppe: **started** (`det.mAP50` 0.5 < 0.75) → `gf/optimizer/r/z99/1`');
    expect(lines).toContain('- … 11 more in the check run\'s decisions.json');
    expect(lines.at(-1)).toBe('check run: [chk](http://mlflow.test:5000/#/experiments/3/runs/chk)');
  });

  it('a guarded promotion: the approval deadline, then the soak with the numbers seen', () => {
    const base = { model: 'acme.ppe', version: '4', gate: 'passed' };
    expect(promotionCurrentDetails({ ...base, phase: PromotionPhase.awaitingApproval, approvalDeadline: '2026-12-07T14:00:00.000Z' })).toBe(
      '**awaiting approval** · acme.ppe v4\nwaiting for approval until 2026-12-07T14:00:00.000Z (`gflow approve|reject acme.ppe 4`)\ngate: passed',
    );
    const soaking = promotionCurrentDetails({ ...base, phase: PromotionPhase.soaking, soakUntil: '2026-12-08T14:00:00.000Z', soakSeen: { 'sys.latency_ms_p95': 12.5, 'det.mAP50': null }, verdict: { by: 'alice', approved: true } });
    expect(soaking).toContain('soaking until 2026-12-08T14:00:00.000Z · seen: `sys.latency_ms_p95` = 12.5, `det.mAP50` = not measured');
    expect(soaking).toContain('approved by alice');
  });
});
