import { afterEach } from "bun:test";

/**
 * For a test file: returns `onCleanup`, which queues something to undo (stop an agent, delete a
 * directory) after the test that queued it, in reverse order, whether the test passed or not.
 */
export function cleanupsAfterEach(): (undo: () => unknown) => void {
  const queued: (() => unknown)[] = [];
  afterEach(async () => {
    for (const undo of queued.splice(0).reverse()) await undo();
  });
  return (undo) => void queued.push(undo);
}
