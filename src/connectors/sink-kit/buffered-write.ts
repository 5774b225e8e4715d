import type { ChangeEvent } from '../../core/change-event.js';
import { SchemaChangeFailedError } from '../../core/errors.js';
import type { ChangeBuffer } from './change-buffer.js';
import { redeclareBefore } from './schema-tracker.js';

/**
 * `Sink.write` for a sink that buffers events in a {@link ChangeBuffer} and applies them later (`apply` drains
 * the buffer, inside the open transaction). A batch without schema events is only buffered; one with schema
 * events is applied up to and including each of them, so that a schema change the sink refuses is reported by
 * its own write: the steps before it stay applied, the events after it are not buffered (see `Sink.write`), and
 * the table is declared again with the schema it had before, so that the buffer's schemas agree with the
 * sink's. Any other error of `apply` is handed to `fail` (which ends the transaction) and what it returns is
 * thrown.
 *
 * The PostgreSQL sink does not use this: it buffers nothing (each batch goes to its writer at once, pipelined
 * behind the next), and writes the rows before a schema event apart from the event.
 */
export async function writeBuffered(
  buffer: ChangeBuffer,
  events: readonly ChangeEvent[],
  apply: () => Promise<void>,
  fail: (error: unknown) => Error | Promise<Error>,
): Promise<void> {
  if (!events.some((event) => event.kind === 'schema')) {
    buffer.add(events);
    return;
  }
  let start = 0;
  for (const [i, event] of events.entries()) {
    if (event.kind !== 'schema') continue;
    buffer.add(events.slice(start, i + 1));
    start = i + 1;
    try {
      await apply();
    } catch (error) {
      if (!(error instanceof SchemaChangeFailedError)) throw await fail(error);
      const redeclare = redeclareBefore(error);
      if (redeclare !== undefined) buffer.add([redeclare]);
      throw error;
    }
  }
  buffer.add(events.slice(start));
}
