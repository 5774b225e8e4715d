import { describe, expect, it } from 'vitest';
import { Handoff } from '../../src/connectors/kafka/kafka-handoff.js';

describe('the kafka source handoff (eachBatch push → batches() pull)', () => {
  it('lets the consumer go on only once the pipeline took the batch, in order', async () => {
    const h = new Handoff<number>();
    let taken = false;
    const put = h.put(1).then(() => (taken = true));
    await Promise.resolve();
    expect(taken).toBe(false);
    expect(await h.take()).toBe(1);
    await put;
    expect(taken).toBe(true);
    const next = h.take();
    await h.put(2);
    expect(await next).toBe(2);
  });

  it('ends the pull loop on close and releases a waiting consumer', async () => {
    const h = new Handoff<number>();
    const waiting = h.put(1);
    h.close();
    await waiting;
    expect(await h.take()).toBeUndefined();
  });

  it('hands a consumer crash to the pull loop as its error', async () => {
    const h = new Handoff<number>();
    const next = h.take();
    h.fail(new Error('crashed'));
    await expect(next).rejects.toThrow('crashed');
  });
});
