import type { Client, WorkflowHandle } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import type { DeviceSlots } from '../activities/gpu/devices';
import { CONTROL_QUEUE } from '../common/contract';
import { DrainMode, HOST_SEEN_INTERVAL_MS, HOST_WORKFLOW_TYPE, hostCheckInSignal, hostQuery, hostSeenSignal, HostState, hostStoppedSignal, hostWorkflowId, type HostCheckIn } from '../common/hosts';
import type { gpuHost } from '../workflows/gpu-host';

export interface HostControlOptions {
  client: Client;
  pool: string;
  hostId: string;
  /** The workers' identity (`{pid}@{host}`). */
  identity: string;
  devices: DeviceSlots;
  /** Runs the GPU jobs; created with a shutdown grace as long as a job, so its shutdown lets running jobs finish. */
  poolWorker: Worker;
  /** Runs the uploads of files the jobs left here: it outlives the pool worker until they are done. */
  uploadWorker: Worker;
  /** Aborted by a drain at once: running jobs fail HostDraining and resume on another host. */
  handBack: AbortController;
  log: (line: string) => void;
  /** How often the record is read for a drain request. */
  pollMs?: number;
  /** After the last job: how long the upload worker must have been idle before it stops (the workflows schedule uploads right after their jobs). */
  uploadQuietMs?: number;
}

/**
 * The life of one GPU host process in its pool: checks in to the host's record (the `gpuHost`
 * workflow), says it is alive, and watches the record for a drain, which it carries out:
 * the pool worker stops taking jobs (running ones finish, or with `now` go back to the pool at
 * once), then the upload worker stops once the jobs' uploads are done, and the record says gone.
 */
export class HostControl {
  private drainMode: DrainMode | undefined;
  private uploadQuietMs: number;
  private readonly record: WorkflowHandle<typeof gpuHost>;

  constructor(private readonly opts: HostControlOptions) {
    this.record = opts.client.workflow.getHandle(hostWorkflowId(opts.pool, opts.hostId));
    this.uploadQuietMs = opts.uploadQuietMs ?? 15_000;
  }

  /**
   * Starts draining (idempotent; `now` may follow `graceful`). `uploadQuietMs` shortens the wait
   * for uploads (a stop signal from the system, which will not wait long).
   */
  drain(mode: DrainMode, uploadQuietMs?: number): void {
    if (uploadQuietMs !== undefined) this.uploadQuietMs = Math.min(this.uploadQuietMs, uploadQuietMs);
    if (mode === DrainMode.now && !this.opts.handBack.signal.aborted) {
      this.opts.log(`host ${this.opts.hostId}: draining at once: running jobs go back to the pool`);
      this.opts.handBack.abort();
    }
    if (this.drainMode !== undefined) return;
    this.drainMode = mode;
    if (mode === DrainMode.graceful) this.opts.log(`host ${this.opts.hostId}: draining: no new jobs; running ones finish`);
    if (this.opts.poolWorker.getState() === 'RUNNING') this.opts.poolWorker.shutdown();
  }

  /** Runs the host until it has drained; its record then says gone. */
  async run(): Promise<void> {
    const { client, pool, hostId, identity, devices, log } = this.opts;
    await client.workflow.signalWithStart<typeof gpuHost, [HostCheckIn]>(HOST_WORKFLOW_TYPE, {
      workflowId: this.record.workflowId,
      taskQueue: CONTROL_QUEUE,
      args: [{ pool, hostId }],
      signal: hostCheckInSignal,
      signalArgs: [{ identity, slots: devices.slots, devices: devices.devices.map((d) => ({ index: d.index, name: d.name })) }],
    });
    const poolRun = this.opts.poolWorker.run();
    const uploadRun = this.opts.uploadWorker.run();
    let warned = false;
    const warnOnce = (what: string) => (err: unknown) => {
      if (!warned) log(`host ${hostId}: ${what} failed (the control worker or Temporal may be down; will retry): ${String(err)}`);
      warned = true;
    };
    const watch = setInterval(() => {
      void this.record.query(hostQuery).then((record) => {
        warned = false;
        if (record.state === HostState.draining && record.drain) this.drain(record.drain);
      }, warnOnce('reading its record'));
    }, this.opts.pollMs ?? 2000);
    const seen = setInterval(() => void this.record.signal(hostSeenSignal).catch(warnOnce('saying it is alive')), HOST_SEEN_INTERVAL_MS);
    try {
      await poolRun;
      log(`host ${hostId}: no job runs here any more; waiting for their uploads`);
      await this.uploadsQuiet();
    } finally {
      clearInterval(watch);
      clearInterval(seen);
      if (this.opts.uploadWorker.getState() === 'RUNNING') this.opts.uploadWorker.shutdown();
      await uploadRun;
    }
    await this.record.signal(hostStoppedSignal).catch(warnOnce('recording its stop'));
    log(`host ${hostId}: drained and stopped`);
  }

  /** Resolves once the upload worker has run nothing for `uploadQuietMs`. */
  private async uploadsQuiet(): Promise<void> {
    let quietSince = Date.now();
    while (Date.now() - quietSince < this.uploadQuietMs) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      if (this.opts.uploadWorker.getStatus().numInFlightActivities > 0) quietSince = Date.now();
    }
  }
}
