/**
 * Hands items from a push callback (kafkajs' `eachBatch`) to a pull loop (the source's `batches()`), one at a
 * time: `put` resolves when the item was taken, so the consumer fetches on only as fast as the pipeline writes.
 */
export class Handoff<T> {
  private item: { value: T; taken: () => void } | undefined;
  private waiting: ((value: T | undefined) => void) | undefined;
  private failure: Error | undefined;
  private closed = false;

  /** Resolves when `take` has the value (or the handoff closed). */
  put(value: T): Promise<void> {
    return new Promise((taken) => {
      if (this.closed) return taken();
      if (this.waiting) {
        const waiting = this.waiting;
        this.waiting = undefined;
        waiting(value);
        taken();
      } else this.item = { value, taken };
    });
  }

  /** The next value; undefined once closed; throws what `fail` was given. */
  async take(): Promise<T | undefined> {
    this.throwIfFailed();
    const item = this.item;
    if (item) {
      this.item = undefined;
      item.taken();
      return item.value;
    }
    if (this.closed) return undefined;
    const value = await new Promise<T | undefined>((resolve) => (this.waiting = resolve));
    this.throwIfFailed();
    return value;
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure;
  }

  fail(error: Error): void {
    this.failure ??= error;
    this.close();
  }

  close(): void {
    this.closed = true;
    this.item?.taken();
    this.item = undefined;
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.(undefined);
  }
}
