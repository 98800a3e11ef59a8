import { HOST_GONE_AFTER_MS, type HostRecord } from '../../common/hosts';
import { poolLines } from '../../cli/pool-commands';
import { poolView, whyWaiting, type PoolJob, type PoolParts } from '../../cli/pool-view';

const NOW = Date.parse('2026-12-07T12:00:00Z');
const at = (secondsAgo: number) => new Date(NOW - secondsAgo * 1000).toISOString();

function record(hostId: string, extra: Partial<HostRecord> = {}): HostRecord {
  return { pool: 'default', hostId, state: 'active', identity: `1@${hostId}`, slots: 2, devices: [{ index: '0', name: 'A100' }], lastSeen: at(5), ...extra };
}

function job(workflowId: string, extra: Partial<PoolJob> = {}): PoolJob {
  return { workflowId, rootWorkflowId: workflowId, workflowType: 'singleRun', activity: 'train', attempt: 1, priority: 3, state: 'waiting', since: at(60), ...extra };
}

function parts(extra: Partial<PoolParts>): PoolParts {
  return { pool: 'default', queue: 'guardianflow-gpu-default', now: NOW, records: [], pollers: [], jobs: [], held: [], ...extra };
}

describe('poolView', () => {
  it('places running jobs on their hosts, counts slots of active hosts only, and shows a silent host as gone', () => {
    const view = poolView(
      parts({
        records: [record('gpu-1'), record('gpu-2', { lastSeen: new Date(NOW - HOST_GONE_AFTER_MS - 1000).toISOString() }), record('gpu-3', { state: 'draining', drain: 'graceful' })],
        pollers: [{ identity: '9@old-host', host: 'old-host' }],
        jobs: [job('a', { state: 'running', host: 'gpu-1', identity: '1@gpu-1', site: 'acme/kr-p1/z1' }), job('b', { state: 'running', host: 'gpu-3' })],
      }),
    );
    expect(view.hosts.map((h) => [h.hostId, h.state, h.running.map((j) => j.workflowId)])).toEqual([
      ['gpu-1', 'active', ['a']],
      ['gpu-2', 'gone', []],
      ['gpu-3', 'draining', ['b']],
      ['old-host', 'active', []],
    ]);
    expect(view.slots).toEqual({ total: 2, busy: 1 });
  });

  it('groups what waits by priority, then customer', () => {
    const view = poolView(parts({ jobs: [job('x1', { fairnessKey: 'x' }), job('u', { priority: 1, fairnessKey: 'c' }), job('x2', { fairnessKey: 'x' }), job('y', { fairnessKey: 'y' })] }));
    expect(view.waitingBy).toEqual([
      { priority: 1, priorityName: 'urgent', fairnessKey: 'c', jobs: 1 },
      { priority: 3, priorityName: 'normal', fairnessKey: 'x', jobs: 2 },
      { priority: 3, priorityName: 'normal', fairnessKey: 'y', jobs: 1 },
    ]);
    expect(view.waiting.map((j) => j.workflowId)[0]).toBe('u');
  });
});

describe('whyWaiting', () => {
  const busy = [job('r1', { state: 'running', host: 'gpu-1' }), job('r2', { state: 'running', host: 'gpu-1' })];

  it('names what is ahead: more urgent jobs, then those of its own priority by customer', () => {
    const jobs = [
      ...busy,
      ...[1, 2, 3].map((i) => job(`u${i}`, { priority: 1, since: at(10) })),
      ...Array.from({ length: 12 }, (_, i) => job(`x${i}`, { fairnessKey: 'customer-x', since: at(100 + i) })),
      job('late', { fairnessKey: 'customer-x', since: at(1) }),
      job('bg', { priority: 5, since: at(500) }),
      job('mine/trial-0', { rootWorkflowId: 'mine', fairnessKey: 'me', since: at(50) }),
    ];
    const view = poolView(parts({ records: [record('gpu-1')], jobs, held: [{ workflowId: 'mine', queued: 4, running: 0 }] }));
    expect(whyWaiting(view, 'mine')).toEqual([
      expect.stringMatching(/^mine\/trial-0 \(train, normal, customer me\) waits since .*: all 2 slot\(s\) of 1 active host\(s\) busy; 3 urgent and 12 of customer customer-x ahead of it$/),
      "mine: 4 trial(s) held back by the sweep's own parallel limit (0 running)",
    ]);
  });

  it('says when no host is active, when a slot is free, and nothing for a workflow that does not wait', () => {
    const noHost = poolView(parts({ records: [record('gpu-1', { state: 'draining' })], jobs: [job('w')] }));
    expect(whyWaiting(noHost, 'w')).toEqual([expect.stringMatching(/: no active host in pool default$/)]);
    const free = poolView(parts({ records: [record('gpu-1')], jobs: [job('w', { attempt: 2, lastFailure: 'HostDraining: this host is being drained' })] }));
    expect(whyWaiting(free, 'w')).toEqual([expect.stringMatching(/: 2 slot\(s\) free, it should start within seconds; attempt 2, after HostDraining: this host is being drained$/)]);
    expect(whyWaiting(free, 'other')).toEqual([]);
  });
});

describe('poolLines (gflow pool)', () => {
  it('shows hosts with state, slots and devices, the jobs on them, and what waits by priority and customer', () => {
    const view = poolView(
      parts({
        records: [record('gpu-1'), record('gpu-2', { state: 'draining', drain: 'now' })],
        jobs: [job('a', { state: 'running', host: 'gpu-1', site: 'acme/kr-p1/z1', since: at(30) }), job('w', { fairnessKey: 'acme', priority: 1 })],
        held: [{ workflowId: 'sw', queued: 3, running: 2 }],
      }),
    );
    const text = poolLines(view, NOW).join('\n');
    expect(text).toMatch(/^pool default \(queue guardianflow-gpu-default\): 1\/2 slot\(s\) busy on active hosts, 1 job\(s\) waiting/);
    expect(text).toMatch(/gpu-1\s+active\s+2\s+0 A100\s+1\s+5s ago/);
    expect(text).toMatch(/gpu-2\s+draining \(now\)/);
    expect(text).toMatch(/gpu-1\s+acme\/kr-p1\/z1\s+a\s+train\s+normal/);
    expect(text).toMatch(/1\s+urgent\s+acme/);
    expect(text).toMatch(/sw: 3 trial\(s\) \(2 running\)/);
  });
});
