import { SweepSlots, type SlotMessages } from '../../workflows/sweep-slots';

/**
 * A sweep's GPU slots and (RELAY_PATCH) their hand-off from a finishing job straight to a
 * designated waiting trial: who holds a slot, who is permitted, who is designated to whom, and
 * that `parallel` holds through any order of events.
 */

function slotsOf(parallel: number, relay: boolean, open: ConstructorParameters<typeof SweepSlots>[4] = []) {
  const sent: string[] = [];
  /** holder → its newest designation, as the trial keeps it */
  const designated = new Map<number, number | null>();
  let paused = false;
  const messages: SlotMessages = {
    permit: (index) => sent.push(`permit ${index}`),
    designate: (holder, successor) => {
      sent.push(`designate ${holder} → ${successor ?? 'none'}`);
      designated.set(holder, successor);
    },
    hold: (index, held) => sent.push(`${held ? 'hold' : 'go on'} ${index}`),
  };
  const slots = new SweepSlots(parallel, relay, () => paused, messages, open);
  const take = () => sent.splice(0);
  return { slots, take, designated, setPaused: (p: boolean) => void (paused = p) };
}

it('without relay: oldest waiting trial first, nothing designated (sweeps recorded before the change)', () => {
  const { slots, take } = slotsOf(2, false);
  for (const i of [0, 1]) {
    expect(slots.hasFree()).toBe(true);
    slots.take(i);
  }
  slots.enqueue(2);
  slots.enqueue(3);
  expect(take()).toEqual([]);
  slots.release(1);
  expect(take()).toEqual(['permit 2']);
  slots.release(0, 3); // a hand-off named by a job is only accepted for a waiting trial: 3 is, so it holds 0's slot
  expect([...slots.busy].sort()).toEqual([2, 3]);
  expect(slots.queued).toBe(0);
});

it('designates one waiting trial per holder; a job that hands its slot on needs no permit from the sweep', () => {
  const { slots, take } = slotsOf(2, true);
  slots.take(0);
  slots.take(1);
  slots.enqueue(2);
  slots.enqueue(3);
  expect(take()).toEqual(['designate 0 → 2', 'designate 1 → 3']);

  slots.release(0, 2);
  expect([...slots.busy].sort()).toEqual([1, 2]);
  expect(take()).toEqual([]); // 3 is 1's: nothing left for 2 to hand to
  slots.enqueue(4);
  expect(take()).toEqual(['designate 2 → 4']);
  expect(slots.openState(2)).toEqual({ index: 2, slot: 'busy', successor: 4 });
  expect(slots.openState(4)).toEqual({ index: 4, slot: 'waiting' });
});

it('a slot freed without a hand-off goes to an undesignated trial first, else takes a designated one from its holder', () => {
  const { slots, take } = slotsOf(2, true);
  slots.take(0);
  slots.take(1);
  slots.enqueue(2);
  expect(take()).toEqual(['designate 0 → 2']);
  slots.enqueue(3);
  expect(take()).toEqual(['designate 1 → 3']);

  // trial 1 ended with no hand-off (its job failed): its designation of 3 lapses, 3 is undesignated now
  slots.release(1);
  expect(take()).toEqual(['permit 3']);
  slots.release(3);
  // only 2 waits, designated to 0: the free slot takes it and 0 hands to nobody
  expect(take()).toEqual(['designate 0 → none', 'permit 2']);
  // 0's job had already read 2 and permitted it: 2 holds a slot already, so 0's just frees
  slots.release(0, 2);
  expect([...slots.busy]).toEqual([2]);
  expect(take()).toEqual([]);
});

it('paused: designations withdrawn, none made, waiting trials held; a hand-off under way keeps the slot, held, until resume', () => {
  const { slots, take, setPaused } = slotsOf(1, true);
  slots.take(0);
  slots.enqueue(1);
  slots.enqueue(2);
  expect(take()).toEqual(['designate 0 → 1']);
  setPaused(true);
  slots.pause();
  expect(take()).toEqual(['designate 0 → none', 'hold 1', 'hold 2']);
  slots.pause(); // a second pause holds no one twice
  expect(take()).toEqual([]);
  slots.release(0, 1); // the job had read 1 before the pause: 1 has its permit (and its hold) and keeps the slot
  expect([...slots.busy]).toEqual([1]);
  expect(slots.openState(1)).toEqual({ index: 1, slot: 'busy', held: true });
  expect(take()).toEqual([]);
  setPaused(false);
  slots.resume();
  expect(take()).toEqual(['go on 1', 'go on 2', 'designate 1 → 2']);
  slots.release(1, 2);
  expect([...slots.busy]).toEqual([2]);
  expect(take()).toEqual([]);
});

it('without relay, pause and resume only stop and restart the grants (sweeps recorded before the change)', () => {
  const { slots, take, setPaused } = slotsOf(1, false);
  slots.take(0);
  slots.enqueue(1);
  setPaused(true);
  slots.pause();
  slots.release(0);
  expect(take()).toEqual([]);
  setPaused(false);
  slots.resume();
  expect(take()).toEqual(['permit 1']);
});

it('a designated trial that ends is replaced by another waiting one', () => {
  const { slots, take } = slotsOf(1, true);
  slots.take(0);
  slots.enqueue(1);
  slots.enqueue(2);
  expect(take()).toEqual(['designate 0 → 1']);
  slots.release(1); // trial 1 cancelled while waiting
  expect(take()).toEqual(['designate 0 → none', 'designate 0 → 2']);
});

it('the next run gets the holders, the waiting and the designations back', () => {
  const { slots, take } = slotsOf(2, true, [
    { index: 5, slot: 'busy', successor: 7 },
    { index: 6, slot: 'busy' },
    { index: 7, slot: 'waiting' },
    { index: 8, slot: 'waiting' },
  ]);
  slots.designate();
  expect(take()).toEqual(['designate 6 → 8']);
  slots.release(5, 7);
  expect([...slots.busy].sort()).toEqual([6, 7]);
});

it('holds `parallel` and permits each trial once, whatever the order of events (random runs)', () => {
  let seed = 12345;
  const random = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  for (let run = 0; run < 200; run++) {
    const parallel = 1 + random(4);
    const { slots, take, designated, setPaused } = slotsOf(parallel, true);
    const permitted = new Set<number>();
    const ended = new Set<number>();
    let next = 0;
    let paused = false;
    const live = () => [...slots.busy];
    for (let step = 0; step < 60; step++) {
      const op = random(6);
      if (op === 0 || op === 1) {
        const index = next++;
        if (slots.hasFree()) {
          slots.take(index);
          permitted.add(index);
        } else slots.enqueue(index);
      } else if (op === 2 && live().length > 0) {
        // a job ends: it hands to its trial's newest designation, if that trial still waits
        const holder = live()[random(live().length)];
        const successor = designated.get(holder) ?? null;
        const handed = successor !== null && !ended.has(successor) && !permitted.has(successor) ? successor : undefined;
        if (handed !== undefined) permitted.add(handed);
        slots.release(holder, handed);
        ended.add(holder);
      } else if (op === 3) {
        const waiting = Array.from({ length: next }, (_, i) => i).filter((i) => !permitted.has(i) && !ended.has(i));
        if (waiting.length > 0) {
          const gone = waiting[random(waiting.length)];
          slots.release(gone);
          ended.add(gone);
        }
      } else if (op === 4) {
        paused = !paused;
        setPaused(paused);
        if (paused) slots.pause();
        else slots.resume();
      }
      for (const message of take()) {
        const permit = /^permit (\d+)$/.exec(message);
        if (!permit) continue;
        const index = Number(permit[1]);
        expect(permitted.has(index)).toBe(false);
        permitted.add(index);
      }
      expect(slots.busy.size).toBeLessThanOrEqual(parallel);
      for (const holder of slots.busy) expect(permitted.has(holder)).toBe(true);
      const successors = [...designated.entries()].filter(([holder, s]) => s !== null && slots.busy.has(holder)).map(([, s]) => s);
      expect(new Set(successors).size).toBe(successors.length);
    }
  }
});
