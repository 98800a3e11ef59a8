import { MetricStream } from '../../activities/gpu/metric-stream';
import type { StepMetrics } from '../../activities/tracking/activities';

const epoch = (step: number, metrics = 40): StepMetrics => ({ step, metrics: Object.fromEntries(Array.from({ length: metrics }, (_, m) => [`m${m}`, step + m / 100])) });

/** A log function that answers after `delayMs`, recording each call's steps. */
function slowLog(delayMs: number) {
  const calls: number[][] = [];
  const log = async (steps: StepMetrics[]) => {
    calls.push(steps.map((s) => s.step));
    await new Promise((r) => setTimeout(r, delayMs));
  };
  return { calls, log };
}

describe('MetricStream', () => {
  it('sends epochs that queue behind a request together, up to 1,000 values a request, in order', async () => {
    const { calls, log } = slowLog(5);
    const stream = new MetricStream(log);
    for (let step = 1; step <= 300; step++) stream.push(epoch(step));
    await stream.close();
    // the first epoch goes alone; the 299 that queued behind it go 25 (1,000 values of 40) at a time
    expect(calls.map((c) => c.length)).toEqual([1, 25, 25, 25, 25, 25, 25, 25, 25, 25, 25, 25, 24]);
    expect(calls.flat()).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
  });

  it('sends each epoch at once when epochs come slower than requests', async () => {
    const { calls, log } = slowLog(1);
    const stream = new MetricStream(log);
    for (let step = 1; step <= 3; step++) {
      stream.push(epoch(step));
      await new Promise((r) => setTimeout(r, 20));
    }
    await stream.close();
    expect(calls).toEqual([[1], [2], [3]]);
  });

  it('sends an epoch larger than one request on its own', async () => {
    const { calls, log } = slowLog(1);
    const stream = new MetricStream(log, 0, 0, 100);
    stream.push(epoch(1, 10));
    stream.push(epoch(2, 150));
    stream.push(epoch(3, 60));
    stream.push(epoch(4, 40));
    stream.push(epoch(5, 1));
    await stream.close();
    expect(calls).toEqual([[1], [2], [3, 4], [5]]);
  });

  it('retries a failed request with the same epochs, then goes on with the rest', async () => {
    const calls: number[][] = [];
    let failures = 2;
    const stream = new MetricStream(
      async (steps) => {
        calls.push(steps.map((s) => s.step));
        if (failures-- > 0) throw new Error('MLflow down');
        await Promise.resolve();
      },
      5,
      1,
    );
    stream.push(epoch(1));
    stream.push(epoch(2));
    await stream.close();
    expect(calls).toEqual([[1], [1], [1], [2]]);
  });

  it('close() fails with the error of a request that never got through, after delivering the rest', async () => {
    const delivered: number[] = [];
    const stream = new MetricStream(
      async (steps) => {
        await Promise.resolve();
        if (steps[0].step === 1) throw new Error('MLflow refused');
        delivered.push(...steps.map((s) => s.step));
      },
      2,
      1,
    );
    stream.push(epoch(1));
    stream.push(epoch(2));
    await expect(stream.close()).rejects.toThrow('MLflow refused');
    expect(delivered).toEqual([2]);
  });

  it('a push after the stream went idle starts a new delivery', async () => {
    const { calls, log } = slowLog(1);
    const stream = new MetricStream(log);
    stream.push(epoch(1));
    await stream.close();
    stream.push(epoch(2));
    await stream.close();
    expect(calls).toEqual([[1], [2]]);
  });
});
