// When the hub's heartbeats go out: the period is cut into slots and each socket gets one, so
// every turn sends to a slot's share of the sockets, not to every socket whose time came. Sockets
// that all connected within a few seconds (after an API restart, say) would otherwise beat
// together for as long as they stay: 10,000 of them meant one loop of ~670 sends blocking the API
// for 10–20 ms every second.

/** Sockets spread over the slots of one heartbeat period. */
export interface HeartbeatWheel<T> {
  /** How often `turn` should run. */
  slotMs: number;
  /** Gives the item a slot: its heartbeats come once per period, from its slot's next turn on. */
  add(item: T): void;
  /** The item gets no more heartbeats. */
  remove(item: T): void;
  /** Moves on one slot and returns the items whose heartbeat is due. */
  turn(): Iterable<T>;
}

// A slot per this many ms of the period: at the protocol's 15 s, 150 turns of a 150th each.
const SLOT_MS = 100;

/** A wheel of `periodMs`; slots are SLOT_MS long (two per period when that is shorter). */
export function heartbeatWheel<T>(periodMs: number): HeartbeatWheel<T> {
  const slotMs = Math.min(SLOT_MS, periodMs / 2);
  const slots = Array.from({ length: Math.round(periodMs / slotMs) }, () => new Set<T>());
  const slotOf = new Map<T, Set<T>>();
  let cursor = 0;
  // New items go round the slots in turn, so they stay spread however they arrive.
  let nextSlot = 0;
  return {
    slotMs,
    add(item) {
      if (slotOf.has(item)) return;
      const slot = slots[nextSlot] as Set<T>;
      nextSlot = (nextSlot + 1) % slots.length;
      slot.add(item);
      slotOf.set(item, slot);
    },
    remove(item) {
      slotOf.get(item)?.delete(item);
      slotOf.delete(item);
    },
    turn() {
      const due = slots[cursor] as Set<T>;
      cursor = (cursor + 1) % slots.length;
      return [...due];
    },
  };
}
