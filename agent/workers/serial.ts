// One operation at a time: each call waits for the previous one to settle, whatever its outcome.

/** Runs the functions given to `run` one after another, in call order. */
export interface Serial {
  run<T>(operation: () => Promise<T>): Promise<T>;
}

/** A fresh queue with nothing running. */
export function createSerial(): Serial {
  let tail: Promise<unknown> = Promise.resolve();
  return {
    run(operation) {
      const result = tail.then(operation);
      tail = result.catch(() => undefined);
      return result;
    },
  };
}
