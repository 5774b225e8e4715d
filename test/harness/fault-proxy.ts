import { createConnection, createServer, type Server, type Socket } from 'node:net';

/**
 * What the proxy does with the connections through it:
 * - `forward`: pass bytes both ways (new connections are accepted and forwarded);
 * - `pause`: stop forwarding both ways but keep every socket open and buffer nothing away — on `heal` the
 *   held bytes flow on, none lost (a link that stalls for a while);
 * - `half-open`: the server side is gone (its sockets are closed), the client side stays open and silent —
 *   bytes from the client are swallowed, nothing ever comes back and the client socket is never closed (a NAT
 *   or firewall that forgot the connection, a failed-over primary). New connections are accepted and treated
 *   the same way. `heal` lets new connections through; those already half-open stay so, as in real life.
 */
export type ProxyMode = 'forward' | 'pause' | 'half-open';

/**
 * A TCP proxy for fault tests, listening on 127.0.0.1 only: forwards to `target` and can reset every
 * connection (RST), pause, make connections half-open, slow the link down, or drop bytes from the server's
 * stream once (a framing desync). Every socket has an error listener: a fault must never become an unhandled
 * error event in the test process.
 */
export interface FaultProxy {
  /** The port clients connect to (on 127.0.0.1). */
  readonly port: number;
  /** Connections accepted so far. */
  readonly accepted: number;
  readonly mode: ProxyMode;
  /** Resets (RST) every open connection, both sides; new connections go on as the mode says. */
  resetAll(): void;
  pause(): void;
  halfOpen(): void;
  /** Back to `forward`: paused bytes flow on; half-open connections stay silent (the client must notice). */
  heal(): void;
  /** Each chunk in either direction waits `ms` before it is passed on (0: no delay). Order is kept. */
  slow(ms: number): void;
  /** Drops the next `bytes` bytes the server sends on one open connection (the first that sends any). */
  dropServerBytes(bytes: number): void;
  close(): Promise<void>;
}

interface Pair {
  readonly client: Socket;
  upstream: Socket | undefined;
  /** Client bytes held while the upstream connects or the link is paused. */
  readonly toServer: Buffer[];
  /** Server bytes held while paused. */
  readonly toClient: Buffer[];
  /** Swallow everything from the client; the upstream is gone. */
  halfOpen: boolean;
  /** Chained sends when the link is slow, so chunks keep their order. */
  chain: Promise<void>;
  /** Chunks waiting in `chain`. */
  delayed: number;
}

/** `port`: listen on this one (a server coming back where it was), else on any free port. */
export async function startFaultProxy(
  target: { host: string; port: number },
  options: { readonly port?: number } = {},
): Promise<FaultProxy> {
  const pairs = new Set<Pair>();
  let mode: ProxyMode = 'forward';
  let delayMs = 0;
  let dropBytes = 0;
  let accepted = 0;

  const send = (pair: Pair, to: Socket | undefined, chunk: Buffer): void => {
    // Straight through only when nothing waits in the slow chain: bytes must never overtake earlier ones.
    if (delayMs === 0 && pair.delayed === 0) {
      if (to && !to.destroyed) to.write(chunk);
      return;
    }
    const delay = delayMs;
    pair.delayed++;
    pair.chain = pair.chain.then(
      () =>
        new Promise<void>((resolve) =>
          setTimeout(() => {
            pair.delayed--;
            if (to && !to.destroyed) to.write(chunk);
            resolve();
          }, delay),
        ),
    );
  };

  const goHalfOpen = (pair: Pair): void => {
    pair.halfOpen = true;
    pair.toServer.length = 0;
    pair.toClient.length = 0;
    pair.upstream?.destroy();
    pair.upstream = undefined;
  };

  const flush = (pair: Pair): void => {
    if (pair.halfOpen) return;
    if (pair.upstream && !pair.upstream.connecting) {
      for (const chunk of pair.toServer.splice(0)) send(pair, pair.upstream, chunk);
    }
    for (const chunk of pair.toClient.splice(0)) send(pair, pair.client, chunk);
    pair.client.resume();
    pair.upstream?.resume();
  };

  const connectUpstream = (pair: Pair): void => {
    const upstream = createConnection({ host: target.host, port: target.port });
    pair.upstream = upstream;
    upstream.setNoDelay(true);
    upstream.on('error', () => pair.client.destroy());
    upstream.on('connect', () => {
      if (mode === 'forward') flush(pair);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (pair.halfOpen || pair.upstream !== upstream) return;
      let data = chunk;
      if (dropBytes > 0) {
        const dropped = Math.min(dropBytes, data.length);
        dropBytes -= dropped;
        data = data.subarray(dropped);
        if (data.length === 0) return;
      }
      if (mode === 'pause') {
        pair.toClient.push(data);
        upstream.pause();
        return;
      }
      send(pair, pair.client, data);
    });
    // The server closed: the client learns it, as through a real link (unless the link is half-open).
    upstream.on('close', () => {
      if (!pair.halfOpen && pair.upstream === upstream) pair.client.end();
    });
  };

  const server: Server = createServer((client) => {
    accepted++;
    client.setNoDelay(true);
    const pair: Pair = {
      client,
      upstream: undefined,
      toServer: [],
      toClient: [],
      halfOpen: false,
      chain: Promise.resolve(),
      delayed: 0,
    };
    pairs.add(pair);
    client.on('error', () => pair.upstream?.destroy());
    client.on('close', () => {
      pairs.delete(pair);
      pair.upstream?.destroy();
    });
    client.on('data', (chunk: Buffer) => {
      if (pair.halfOpen) return; // swallowed: nobody is on the other side any more
      if (mode === 'pause' || !pair.upstream || pair.upstream.connecting) {
        pair.toServer.push(chunk);
        if (mode === 'pause') client.pause();
        return;
      }
      send(pair, pair.upstream, chunk);
    });
    client.on('end', () => {
      if (!pair.halfOpen) pair.upstream?.end();
    });
    if (mode === 'half-open') {
      goHalfOpen(pair);
      return;
    }
    connectUpstream(pair);
  });
  server.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('fault proxy: no port');

  return {
    port: address.port,
    get accepted() {
      return accepted;
    },
    get mode() {
      return mode;
    },
    resetAll: () => {
      for (const pair of [...pairs]) {
        pair.upstream?.resetAndDestroy();
        pair.client.resetAndDestroy();
        pairs.delete(pair);
      }
    },
    pause: () => {
      mode = 'pause';
    },
    halfOpen: () => {
      mode = 'half-open';
      for (const pair of pairs) goHalfOpen(pair);
    },
    heal: () => {
      mode = 'forward';
      for (const pair of pairs) flush(pair);
    },
    slow: (ms) => {
      delayMs = ms;
    },
    dropServerBytes: (bytes) => {
      dropBytes = bytes;
    },
    close: async () => {
      for (const pair of [...pairs]) {
        pair.upstream?.destroy();
        pair.client.destroy();
      }
      pairs.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
