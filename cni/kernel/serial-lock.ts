// A promise-chain mutex: kernel operations run one at a time, in call order, so two batches never
// interleave and every plan is applied against the state the previous one left.
export class SerialLock {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn, fn);
    this.tail = result.catch(() => undefined);
    return result;
  }
}
