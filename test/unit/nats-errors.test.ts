import { NatsError } from 'nats';
import { describe, expect, it } from 'vitest';
import { classifyNatsError } from '../../src/connectors/nats/nats-errors.js';
import { isTransient } from '../../src/runtime/retry-policy.js';

/** The NATS client's errors as the pipeline reports them: a code per side, retried when the world is to blame. */
describe('classifyNatsError', () => {
  it('a request left unanswered (a JetStream cluster electing a leader) is a timeout, retried, with what to check', () => {
    const error = classifyNatsError(NatsError.errorForCode('TIMEOUT'), 'sink', 'JetStream');
    expect(error.code).toBe('SINK_TIMEOUT');
    expect(error.retryable).toBe(true);
    expect(isTransient(error.code)).toBe(true);
    expect(error.hint).toContain('option `servers`');
    expect(classifyNatsError(NatsError.errorForCode('TIMEOUT'), 'source', 'stream').code).toBe('SOURCE_TIMEOUT');
  });

  it('no responder and a refused connection are a server away; a bad password is not retried as one', () => {
    expect(classifyNatsError(NatsError.errorForCode('503'), 'sink', 'JetStream').code).toBe('SINK_UNREACHABLE');
    expect(classifyNatsError(NatsError.errorForCode('CONNECTION_REFUSED'), 'source', 'NATS').code).toBe(
      'SOURCE_UNREACHABLE',
    );
    const auth = classifyNatsError(NatsError.errorForCode('AUTHORIZATION_VIOLATION'), 'sink', 'NATS');
    expect(auth.code).toBe('SINK_AUTH_FAILED');
    expect(isTransient(auth.code)).toBe(false);
  });
});
