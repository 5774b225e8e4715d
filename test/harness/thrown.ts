import { expect } from 'vitest';

/** The error `run` throws, which must be a `type`; fails the test if `run` returns or throws anything else. */
export function thrown<E extends Error>(run: () => unknown, type: abstract new (...args: never[]) => E): E {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(type);
    return error as E;
  }
  throw new Error(`expected a ${type.name}; nothing was thrown`);
}
