import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../runtime/logger.js';
import type { PipelineMetrics } from '../runtime/pipeline-metrics.js';
import { DASHBOARD_CSS, DASHBOARD_SCRIPT } from './dashboard-assets.js';
import { dashboardPage, dashboardSections, type ScaleOutView } from './dashboard-page.js';
import { authorize } from './http-access.js';
import { prometheusRegistry } from './prometheus-exporter.js';
import { StatusHistory } from './status-history.js';

export interface DashboardServerOptions {
  readonly metrics: PipelineMetrics;
  readonly host: string;
  /** 0: any free port. */
  readonly port: number;
  /** When `port` is taken, try this many ports after it (default 0: fail). */
  readonly portAttempts?: number;
  /** The pipeline file as shown on the page: the caller masks its secrets. */
  readonly pipelineFile: string;
  readonly log: Logger;
  /** How often the charts are sampled and live pages updated (default 1 s). */
  readonly intervalMs?: number;
  /** The token every request but /healthz and /readyz must carry (see http-access.ts); undefined: none. */
  readonly token?: string;
  /** A scale-out pipeline's cluster view: the workers section of the page, `tributary_scaleout_*` and `scaleOut` in /api/status. */
  readonly scaleOut?: ScaleOutView;
}

export interface DashboardServer {
  /** `http://host:port/` */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * The HTTP server of `tributary run`: the dashboard (`/`), `/metrics` (Prometheus text format), `/healthz`,
 * `/readyz`, `/api/status` (JSON) and `/api/events` (server-sent events, one `status` event per interval).
 * Read-only: nothing served changes the pipeline. Its timer and sockets never keep the process alive. With a
 * `token`, every path but /healthz and /readyz needs it.
 */
export async function startDashboardServer(options: DashboardServerOptions): Promise<DashboardServer> {
  const { metrics, log } = options;
  const { scaleOut } = options;
  const registry = prometheusRegistry(metrics, scaleOut);
  // The status document, with the cluster view of a scale-out pipeline (null until the bucket was first read).
  const statusDocument = () =>
    scaleOut === undefined ? metrics.status() : { ...metrics.status(), scaleOut: scaleOut.current() ?? null };
  const history = new StatusHistory();
  const streams = new Set<ServerResponse>();
  const intervalMs = options.intervalMs ?? 1000;

  const tick = () => {
    const status = metrics.status();
    history.add(status);
    if (streams.size === 0) return;
    const data = JSON.stringify({ status, sections: dashboardSections(status, history.list(), scaleOut) });
    for (const res of streams) res.write(`event: status\ndata: ${data}\n\n`);
  };
  const timer = setInterval(tick, intervalMs);
  timer.unref();
  history.add(metrics.status());

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain', 'GET only\n');
    if (!authorize(req, res, options.token)) return;
    switch (path) {
      case '/':
        return send(
          res,
          200,
          'text/html; charset=utf-8',
          dashboardPage(metrics.status(), history.list(), options.pipelineFile, scaleOut),
        );
      case '/dashboard.js':
        return send(res, 200, 'text/javascript; charset=utf-8', DASHBOARD_SCRIPT);
      case '/dashboard.css':
        return send(res, 200, 'text/css; charset=utf-8', DASHBOARD_CSS);
      case '/metrics':
        return send(res, 200, registry.contentType, await registry.metrics());
      case '/healthz': {
        const ok = metrics.state !== 'failed';
        return send(res, ok ? 200 : 503, 'text/plain', ok ? 'ok\n' : `pipeline ${metrics.state}\n`);
      }
      case '/readyz': {
        const ready = metrics.state === 'running';
        return send(res, ready ? 200 : 503, 'text/plain', ready ? 'ready\n' : `pipeline ${metrics.state}\n`);
      }
      case '/api/status':
        return send(res, 200, 'application/json', JSON.stringify(statusDocument(), null, 2));
      case '/api/events': {
        res.writeHead(200, {
          'content-type': 'text/event-stream',
          'cache-control': 'no-cache',
          connection: 'keep-alive',
        });
        res.write(': tributary status stream\nretry: 2000\n\n');
        streams.add(res);
        req.on('close', () => streams.delete(res));
        return;
      }
      default:
        return send(res, 404, 'text/plain', 'not found: try / /metrics /healthz /readyz /api/status\n');
    }
  };
  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      log.debug(`dashboard: ${String(error)}`);
      if (!res.headersSent) send(res, 500, 'text/plain', 'internal error\n');
      else res.end();
    });
  });
  server.on('error', (error) => log.debug(`dashboard server: ${error.message}`));

  const port = await listen(server, options.host, options.port, options.portAttempts ?? 0);
  if (options.port !== 0 && port !== options.port)
    log.info(`port ${options.port} is taken: the dashboard uses port ${port} instead`);
  server.unref();
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    url: `http://${host}:${port}/`,
    async close() {
      clearInterval(timer);
      for (const res of streams) res.end();
      streams.clear();
      // Open pages hold keep-alive connections: drop them, or close would wait for the browser.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}

/** Listens on `port`, or the next of `attempts` ports after it when taken; resolves with the port used. */
async function listen(server: Server, host: string, port: number, attempts: number): Promise<number> {
  for (let i = 0; ; i++) {
    try {
      await new Promise<void>((resolve, reject) => {
        const onError = (error: Error) => reject(error);
        server.once('error', onError);
        server.listen(port === 0 ? 0 : port + i, host, () => {
          server.off('error', onError);
          resolve();
        });
      });
      return (server.address() as AddressInfo).port;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'EADDRINUSE' || port === 0 || i >= attempts || port + i >= 65535) throw error;
    }
  }
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, {
    'content-type': type,
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
  });
  res.end(body);
}
