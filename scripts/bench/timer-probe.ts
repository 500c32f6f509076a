// A process that does nothing but wake on a timer, to show how late this machine runs a process
// that wants the CPU for a moment: what any hop of a round trip may wait on top of its own work.
// On a shared VM the whole guest is sometimes paused for tens of milliseconds, at rest too.
// Usage: spawned by timer-lateness.ts with the period in ms as its argument. It prints `ready` once
// its timer runs; when its stdin closes, one line of JSON (each wake's lateness in ms, rounded to
// 0.01), and exits.
const TIMER_PERIOD_MS = Number(Bun.argv[2]);

const late: number[] = [];
let last = performance.now();
// Each wake is measured from the one before, so one stall counts once, in the wake after it.
const timer = setInterval(() => {
  const now = performance.now();
  late.push(Math.round(Math.max(0, now - last - TIMER_PERIOD_MS) * 100) / 100);
  last = now;
}, TIMER_PERIOD_MS);
console.log("ready");

// Nothing is sent on stdin: it ends when the orchestrator closes it.
await Bun.stdin.text();
clearInterval(timer);
console.log(JSON.stringify(late));

export {}; // a module, for the top-level await
