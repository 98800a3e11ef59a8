/** What the slots tell trials: a permit to start the GPU job, a (withdrawn: null) designated successor, a hold while paused. */
export interface SlotMessages {
  permit(index: number): void;
  designate(holder: number, successor: number | null): void;
  hold(index: number, held: boolean): void;
}

/** A trial that holds one of the slots or waits for one, as handed to the sweep's next run. */
export interface OpenSlotState {
  index: number;
  slot: 'busy' | 'waiting';
  /** The waiting trial this holder's job hands its slot to (RELAY_PATCH). */
  successor?: number;
  /** Held by a paused sweep (RELAY_PATCH): told to go on when it resumes. */
  held?: boolean;
}

/**
 * A sweep's `parallel` GPU slots: the trials holding one, the prepared trials waiting for one
 * (oldest first), and — with `relay` — the waiting trial each holder's job hands its slot to as it
 * ends. A hand-off skips the sweep's own workflow task, which waits behind every other trial's
 * events: the job asks its trial for the successor (while it runs, so the answer is at hand when
 * it ends) and permits it directly, then tells the sweep, which only records it. Each waiting
 * trial is designated to one holder at most. A paused sweep designates none, withdraws those it
 * made and holds its waiting trials, so a job that read its successor before the pause cannot
 * start it: the successor keeps the slot, idle, until the sweep resumes. Pure: the sweep sends
 * the messages as signals.
 */
export class SweepSlots {
  readonly busy = new Set<number>();
  private waiting: number[] = [];
  /** holder → the waiting trial its job hands the slot to. */
  private readonly successors = new Map<number, number>();
  /** Trials held since the pause (relay only), told to go on at resume. */
  private held = new Set<number>();

  constructor(
    private readonly parallel: number,
    private readonly relay: boolean,
    private readonly paused: () => boolean,
    private readonly send: SlotMessages,
    open: readonly OpenSlotState[] = [],
  ) {
    for (const trial of open) {
      if (trial.slot === 'busy') this.busy.add(trial.index);
      else this.waiting.push(trial.index);
    }
    for (const trial of open) if (relay && trial.successor !== undefined && this.waiting.includes(trial.successor)) this.successors.set(trial.index, trial.successor);
    for (const trial of open) if (relay && trial.held) this.held.add(trial.index);
  }

  get queued(): number {
    return this.waiting.length;
  }

  /** Whether a trial about to start may take a slot now (none waits for one and one is free). */
  hasFree(): boolean {
    return !this.paused() && this.busy.size < this.parallel;
  }

  /** A new trial takes a free slot at its start (`hasFree()` said so). */
  take(index: number): void {
    this.busy.add(index);
  }

  /** A prepared trial waits for a slot. */
  enqueue(index: number): void {
    this.waiting.push(index);
    this.grant();
  }

  /** Hands free slots to waiting trials, undesignated ones first, then oldest; then designates successors. */
  grant(): void {
    while (this.hasFree() && this.waiting.length > 0) {
      const reserved = new Set(this.successors.values());
      const index = this.waiting.find((i) => !reserved.has(i)) ?? this.waiting[0];
      this.waiting = this.waiting.filter((i) => i !== index);
      this.withdrawAsSuccessor(index);
      this.busy.add(index);
      this.send.permit(index);
    }
    this.designate();
  }

  /**
   * Trial `index` frees its slot (its job ended) or leaves the queue (it ended), once; `handedTo`:
   * its job already permitted that waiting trial, which holds the slot now.
   */
  release(index: number, handedTo?: number): void {
    this.waiting = this.waiting.filter((i) => i !== index);
    this.successors.delete(index);
    this.withdrawAsSuccessor(index);
    if (handedTo !== undefined && this.waiting.includes(handedTo)) {
      // the successor has its permit whatever the sweep thinks now (paused, designated elsewhere): it holds the slot
      this.busy.delete(index);
      this.waiting = this.waiting.filter((i) => i !== handedTo);
      this.withdrawAsSuccessor(handedTo);
      this.busy.add(handedTo);
      this.designate();
      return;
    }
    if (this.busy.delete(index)) this.grant();
    else this.designate();
  }

  /** Paused: no job may start, so no holder hands its slot on and no waiting trial starts on a job's permit. */
  pause(): void {
    for (const holder of [...this.successors.keys()]) this.withdraw(holder);
    if (!this.relay) return;
    for (const index of this.waiting) {
      if (this.held.has(index)) continue;
      this.held.add(index);
      this.send.hold(index, true);
    }
  }

  /** Resumed (`paused()` false again): held trials go on — those handed a slot meanwhile start — and free slots are granted. */
  resume(): void {
    for (const index of this.held) if (this.busy.has(index) || this.waiting.includes(index)) this.send.hold(index, false);
    this.held = new Set();
    this.grant();
  }

  /** The trials to hand to the next run, with their slots and successors. */
  openState(index: number): OpenSlotState {
    const successor = this.successors.get(index);
    return { index, slot: this.busy.has(index) ? 'busy' : 'waiting', ...(successor !== undefined && { successor }), ...(this.held.has(index) && { held: true }) };
  }

  /** Gives each holder without a successor a waiting trial nobody else is to hand to. */
  designate(): void {
    if (!this.relay || this.paused()) return;
    const reserved = new Set(this.successors.values());
    const free = this.waiting.filter((i) => !reserved.has(i));
    for (const holder of this.busy) {
      if (free.length === 0) return;
      if (this.successors.has(holder)) continue;
      const successor = free.shift()!;
      this.successors.set(holder, successor);
      this.send.designate(holder, successor);
    }
  }

  /** `index` no longer waits (a slot took it, or it ended): whoever was to hand to it hands to nobody, for now. */
  private withdrawAsSuccessor(index: number): void {
    for (const [holder, successor] of this.successors) if (successor === index) this.withdraw(holder);
  }

  private withdraw(holder: number): void {
    this.successors.delete(holder);
    if (this.busy.has(holder)) this.send.designate(holder, null);
  }
}
