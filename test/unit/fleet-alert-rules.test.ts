import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { AlertRulesFileError, DEFAULT_RULES, loadAlertRules, NO_RULES_FILE, parseAlertRules, rulesFor } from '../../fleet/alert-rules';

const weld = { site: { customer: 'acme', region: 'north', plant: 'p1', zone: 'weld' }, siteKey: 'acme/north-p1/weld', task: 'ppe' };
const dock = { site: { customer: 'acme', region: 'south', plant: 'p2', zone: 'dock' }, siteKey: 'acme/south-p2/dock', task: 'fall' };

describe('alert rules', () => {
  it('defaults to the issue’s thresholds: mAP50 0.75, latency p95 30 ms; drop 0.02 and 7 days', () => {
    expect(rulesFor(NO_RULES_FILE, weld)).toEqual({
      low_accuracy: { enabled: true, severity: 'critical', below: 0.75 },
      high_latency: { enabled: true, severity: 'warning', above_ms: 30 },
      accuracy_drop: { enabled: true, severity: 'warning', above: 0.02 },
      no_recent_run: { enabled: true, severity: 'info', days: 7 },
    });
  });

  it('layers the file’s defaults, then each matching override in file order, field by field', () => {
    const file = parseAlertRules(`
defaults:
  high_latency: { above_ms: 40 }
overrides:
  - match: { customer: acme }
    low_accuracy: { below: 0.8, severity: warning }
  - match: { customer: acme, task: ppe }
    low_accuracy: { below: 0.85 }
    no_recent_run: { enabled: false }
  - match: { site: acme/south-p2/dock }
    high_latency: { above_ms: 25 }
`);
    expect(rulesFor(file, weld)).toEqual({
      low_accuracy: { enabled: true, severity: 'warning', below: 0.85 },
      high_latency: { enabled: true, severity: 'warning', above_ms: 40 },
      accuracy_drop: { enabled: true, severity: 'warning', above: 0.02 },
      no_recent_run: { enabled: false, severity: 'info', days: 7 },
    });
    expect(rulesFor(file, dock)).toEqual({
      low_accuracy: { enabled: true, severity: 'warning', below: 0.8 },
      high_latency: { enabled: true, severity: 'warning', above_ms: 25 },
      accuracy_drop: { enabled: true, severity: 'warning', above: 0.02 },
      no_recent_run: { enabled: true, severity: 'info', days: 7 },
    });
    expect(DEFAULT_RULES.low_accuracy.below).toBe(0.75);
  });

  it('accepts an empty file', () => {
    expect(parseAlertRules('')).toEqual({ overrides: [] });
  });

  it('names every bad field with its line', () => {
    const text = `defaults:
  low_accuracy: { below: 1.5 }
overrides:
  - match: {}
    high_latency: { above_ms: 20, color: red }
  - match: { task: ppx }
    no_recent_run: { days: 2.5 }
`;
    const err = (() => {
      try {
        parseAlertRules(text, 'alerts.yaml');
      } catch (e) {
        return e as AlertRulesFileError;
      }
      throw new Error('parsed');
    })();
    expect(err).toBeInstanceOf(AlertRulesFileError);
    expect(err.issues.map((i) => i.path)).toEqual(['defaults.low_accuracy.below', 'overrides.0.match', 'overrides.0.high_latency', 'overrides.1.match.task', 'overrides.1.no_recent_run.days']);
    expect(err.issues.map((i) => /\(line (\d+)\)$/.exec(i.message)?.[1])).toEqual(['2', '4', '5', '6', '7']);
    expect(err.message).toMatch(/^alerts\.yaml: invalid alert rules\n/);
    expect(err.message).toContain('overrides.0.match: give at least one of customer, site, task (line 4)');
    expect(err.message).toContain('overrides.0.high_latency: Unrecognized key: "color" (line 5)');
  });

  it('refuses broken YAML and an unreadable file, naming the file', async () => {
    expect(() => parseAlertRules('defaults: [1', 'a.yaml')).toThrow(/^a\.yaml: invalid alert rules\n {2}- \(file\): YAML: /);
    const dir = await mkdtemp(path.join(os.tmpdir(), 'gf-alerts-'));
    await expect(loadAlertRules(path.join(dir, 'missing.yaml'))).rejects.toThrow(/missing\.yaml: invalid alert rules\n {2}- \(file\): cannot read file \(ENOENT\)/);
    await writeFile(path.join(dir, 'alerts.yaml'), 'defaults:\n  no_recent_run: { days: 3 }\n');
    expect(rulesFor(await loadAlertRules(path.join(dir, 'alerts.yaml')), weld).no_recent_run.days).toBe(3);
  });
});
