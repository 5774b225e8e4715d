import { TributaryError } from '../core/errors.js';

/** `promise`, or a timeout error after `ms`: a JetStream request left without answer must not stall a loop. */
export async function withinMs<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new TributaryError('SOURCE_TIMEOUT', `no answer from JetStream within ${Math.round(ms)} ms`)),
          ms,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
