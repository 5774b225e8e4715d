/** The part of a socket a deadline reads: its byte counters (a `net.Socket` or `tls.TLSSocket`). */
export interface CountingSocket {
  readonly bytesRead: number;
  readonly bytesWritten: number;
}

export interface SocketDeadlineOptions {
  /** The socket now (a driver may swap its socket for a TLS one after connecting); undefined: none yet. */
  readonly socket: () => CountingSocket | undefined;
  /** A statement is in flight: an answer is awaited. A connection idle between statements never expires. */
  readonly busy: () => boolean;
  /** The longest a busy connection may go without a byte moving either way. */
  readonly timeoutMs: number;
  /** Called once when the deadline passes; it should destroy the socket with a coded error. */
  readonly onExpire: (silentMs: number) => void;
}

/** A running deadline; `stop` when the connection is closed (it also stops by itself after expiring). */
export interface SocketDeadline {
  stop(): void;
}

/**
 * Watches a connection for silence while a statement is in flight: when no byte has been read or written for
 * `timeoutMs` while the driver waits for an answer, the connection counts as dead (a half-open link, a paused
 * path) and `onExpire` runs. Keep-alive alone does not notice a path that still acknowledges TCP but never
 * delivers (a stuck proxy or middlebox); this does, in a bounded time.
 *
 * It polls the socket's byte counters instead of arming a socket timeout, so that a blocked event loop (a
 * busy process on a shared machine) is not mistaken for a silent server: a tick that comes late starts the
 * silence over, since the bytes may be sitting unread in the kernel.
 */
export function startSocketDeadline(options: SocketDeadlineOptions): SocketDeadline {
  const tickMs = Math.max(50, Math.min(1000, Math.floor(options.timeoutMs / 5)));
  let lastBytes = -1;
  let lastMoveAt = Date.now();
  let lastTickAt = Date.now();
  let wasBusy = false;
  const timer = setInterval(() => {
    const now = Date.now();
    const late = now - lastTickAt > 3 * tickMs;
    lastTickAt = now;
    const socket = options.socket();
    const bytes = socket === undefined ? 0 : socket.bytesRead + socket.bytesWritten;
    const busy = options.busy();
    if (bytes !== lastBytes || late || !busy || !wasBusy) {
      lastBytes = bytes;
      lastMoveAt = now;
      wasBusy = busy;
      return;
    }
    if (now - lastMoveAt >= options.timeoutMs) {
      clearInterval(timer);
      options.onExpire(now - lastMoveAt);
    }
  }, tickMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}

/**
 * Runs `close` (a polite goodbye that waits for the server) but gives up after `ms`, calling `destroy` — a
 * half-open connection would otherwise keep the goodbye waiting forever.
 */
export async function closeWithin(close: () => Promise<unknown>, destroy: () => void, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<'expired'>((resolve) => (timer = setTimeout(() => resolve('expired'), ms)));
  try {
    const outcome = await Promise.race([close().then(() => 'closed' as const), expired]);
    if (outcome === 'expired') destroy();
  } catch {
    destroy();
  } finally {
    clearTimeout(timer);
  }
}
