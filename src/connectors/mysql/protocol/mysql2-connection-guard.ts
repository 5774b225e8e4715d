import type { Connection } from 'mysql2';
import type { Connection as PromiseConnection } from 'mysql2/promise';
import { TributaryError } from '../../../core/errors.js';
import { startSocketDeadline } from '../../socket-deadline.js';

/**
 * mysql2 internals this guard relies on (checked against mysql2 3.24, lib/base/connection.js), besides those
 * listed in mysql2-binlog-command.ts:
 * - `connection.handlePacket(packet)`: called through `this` by the packet parser for each packet, with
 *   `packet.sequenceId`; `connection.sequenceId` is the id mysql2 expects next. On a mismatch mysql2 itself
 *   only prints "Warning: got packets out of order" to stderr and goes on with a stream that lost its framing.
 * - `connection._command`: the command in flight, undefined between commands.
 * - `connection.stream`: the socket (a TLS socket after the upgrade); `stream.destroy(error)` makes mysql2
 *   fail the command in flight with `error`, or emit it as the connection's 'error'.
 */
interface GuardedInternals {
  handlePacket: (this: GuardedInternals, packet: { readonly sequenceId: number } | undefined) => void;
  sequenceId: number;
  readonly _command: unknown;
  readonly stream: {
    readonly bytesRead: number;
    readonly bytesWritten: number;
    readonly destroyed: boolean;
    destroy(error?: Error): void;
    setKeepAlive?(enable: boolean, initialDelayMs: number): void;
    once(event: 'close', listener: () => void): unknown;
  };
  on(event: 'error', listener: (error: unknown) => void): unknown;
}

export interface ConnectionGuardOptions {
  /** The longest a statement may go without a byte from or to the server (undefined: no deadline). */
  readonly readTimeoutMs?: number;
  /** What the connection is for, for messages: `snapshot`, `binlog`. */
  readonly purpose: string;
}

/** TCP keep-alive probes start after this much idleness, so a dead peer is noticed even between statements. */
const KEEPALIVE_IDLE_MS = 10_000;

/**
 * Makes a mysql2 connection fail instead of hang or garble: a packet out of sequence (the stream lost its
 * framing) tears the connection down with SOURCE_CONNECTION_LOST instead of mysql2's stderr warning; with
 * `readTimeoutMs`, a statement that sees no byte move for that long fails with SOURCE_TIMEOUT (a half-open or
 * stalled link); TCP keep-alive is on. Both errors are retryable: the pipeline reconnects and resumes from its
 * last checkpoint. Accepts a callback connection or the `.connection` of a promise one.
 */
export function guardConnection(connection: Connection, options: ConnectionGuardOptions): ConnectionGuard {
  const internals = connection as unknown as GuardedInternals;
  if (typeof internals.handlePacket !== 'function' || internals.stream === undefined) {
    throw new Error('this mysql2 version does not expose the connection internals the guard needs');
  }
  // An idle connection's failure is emitted as an 'error' event; the next statement reports it.
  internals.on('error', () => undefined);
  internals.stream.setKeepAlive?.(true, KEEPALIVE_IDLE_MS);

  const original = internals.handlePacket;
  internals.handlePacket = function guarded(this: GuardedInternals, packet) {
    if (packet !== undefined && (this._command ?? undefined) !== undefined && packet.sequenceId !== this.sequenceId) {
      const expected = this.sequenceId;
      this.handlePacket = () => undefined; // nothing more is read from a stream that lost its framing
      this.stream.destroy(
        new ProtocolFramingError(
          `the ${options.purpose} connection lost its framing (packet ${packet.sequenceId} arrived, ${expected} was expected): ` +
            'bytes went missing or were altered on the way',
          'transient: the pipeline reconnects and resumes from its last checkpoint; if it repeats, check the network path (proxies, load balancers) to the server',
        ),
      );
      return;
    }
    original.call(this, packet);
  };

  const timeoutMs = options.readTimeoutMs;
  if (timeoutMs === undefined || timeoutMs <= 0) return { stopDeadline: () => undefined };
  const deadline = startSocketDeadline({
    socket: () => internals.stream,
    busy: () => (internals._command ?? undefined) !== undefined,
    timeoutMs,
    onExpire: (silentMs) => {
      if (internals.stream.destroyed) return;
      internals.stream.destroy(
        new TributaryError(
          'SOURCE_TIMEOUT',
          `the ${options.purpose} connection got no answer from the server for ${Math.round(silentMs / 1000)} s while a statement was running`,
          {
            hint:
              'transient: the pipeline reconnects and resumes from its last checkpoint. The link or the server stalled; ' +
              'if statements legitimately take longer without sending a row, raise source option `read.timeout`',
          },
        ),
      );
    },
  });
  internals.stream.once('close', () => deadline.stop());
  return { stopDeadline: () => deadline.stop() };
}

/** SOURCE_CONNECTION_LOST because the stream lost its framing: the packets read just before may be garbage. */
export class ProtocolFramingError extends TributaryError {
  constructor(message: string, hint: string) {
    super('SOURCE_CONNECTION_LOST', message, { hint });
    this.name = 'ProtocolFramingError';
  }
}

export interface ConnectionGuard {
  /** Ends the statement deadline (the binlog dump, once started, is watched by its heartbeat rule instead). */
  stopDeadline(): void;
}

/** {@link guardConnection} for a `mysql2/promise` connection (its callback connection is `.connection`). */
export function guardPromiseConnection(
  connection: PromiseConnection,
  options: ConnectionGuardOptions,
): ConnectionGuard {
  return guardConnection((connection as unknown as { readonly connection: Connection }).connection, options);
}
