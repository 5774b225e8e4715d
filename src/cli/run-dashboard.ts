import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { PipelineDef } from '../config/pipeline-def.js';
import { DEFAULT_HTTP_PORT, HTTP_PORT_ATTEMPTS } from '../config/pipeline-options.js';
import type { Logger } from '../runtime/logger.js';
import type { PipelineMetrics } from '../runtime/pipeline-metrics.js';
import type { ScaleOutView } from '../ui/dashboard-page.js';
import type { DashboardServer } from '../ui/dashboard-server.js';
import { httpToken, isLoopbackHost } from '../ui/http-access.js';
import { maskPipelineFile } from '../ui/masked-pipeline-file.js';
import { HTTP_ADDRESS_FILE } from './status-command.js';

/** `--http host:port`, `--no-http` (false), or neither (undefined: the file's `pipeline.http`). */
export type HttpOption = { readonly host: string; readonly port: number } | false | undefined;

/** Whether `run` serves its dashboard: not with --no-http, nor with `http.enabled: false` and no --http. */
export function dashboardWanted(def: PipelineDef, http: HttpOption): boolean {
  return !(http === false || (http === undefined && def.pipeline.http?.enabled === false));
}

/**
 * The token the dashboard requires, or undefined (none wanted, or loopback without one); a server beyond
 * loopback without a token throws here, before anything connects. The token is masked in the log.
 */
export function dashboardToken(def: PipelineDef, http: HttpOption, log: Logger): string | undefined {
  if (!dashboardWanted(def, http)) return undefined;
  const where = http || def.pipeline.http;
  const token = httpToken(where === undefined ? '127.0.0.1' : where.host, def.pipeline.http?.token, process.env);
  if (token !== undefined) log.addSecret(token);
  return token;
}

/**
 * The HTTP server of `run` (dashboard, /metrics): a port that cannot be had is a warning, not a reason to stop.
 * With `noteDir`, the URL is noted there for `tributary status` (removed on close).
 */
export async function startRunDashboard(options: {
  readonly file: string;
  readonly def: PipelineDef;
  readonly http: HttpOption;
  readonly token: string | undefined;
  readonly metrics: PipelineMetrics;
  readonly log: Logger;
  readonly noteDir?: string;
  readonly scaleOut?: ScaleOutView;
}): Promise<DashboardServer | undefined> {
  const { def, log, token } = options;
  if (!dashboardWanted(def, options.http)) return undefined;
  const { host, port } = options.http || (def.pipeline.http ?? { host: '127.0.0.1', port: DEFAULT_HTTP_PORT });
  try {
    const text = await readFile(options.file, 'utf8');
    // Loaded only when a dashboard is wanted: the server and prom-client take ~0.04 CPU-s to load (issue 16).
    const { startDashboardServer } = await import('../ui/dashboard-server.js');
    const server = await startDashboardServer({
      metrics: options.metrics,
      host,
      port,
      portAttempts: HTTP_PORT_ATTEMPTS,
      pipelineFile: maskPipelineFile(text, log),
      log,
      ...(token === undefined ? {} : { token }),
      ...(options.scaleOut === undefined ? {} : { scaleOut: options.scaleOut }),
    });
    log.info(
      `dashboard: ${server.url} (Prometheus metrics: ${server.url}metrics)` +
        (token === undefined
          ? ''
          : `; a token is required: Authorization: Bearer <token>, or open ${server.url}?token=<token> once`),
    );
    if (!isLoopbackHost(host))
      log.warn(`the HTTP server listens on ${host}: reachable beyond this machine, with the token`);
    if (options.noteDir === undefined) return server;
    // For `tributary status`: where this run answers (the port may be the next free one, or any).
    const noted = join(options.noteDir, HTTP_ADDRESS_FILE);
    await mkdir(dirname(noted), { recursive: true })
      .then(() => writeFile(noted, server.url + '\n'))
      .catch(() => undefined);
    return {
      url: server.url,
      close: async () => {
        await rm(noted, { force: true }).catch(() => undefined);
        await server.close();
      },
    };
  } catch (error) {
    log.warn(
      `no dashboard: cannot listen on ${host}:${port} (${(error as Error).message}); the pipeline runs without it\n` +
        '  fix: set pipeline http.port (0 for any free port) or run with --http host:port; --no-http turns it off',
    );
    return undefined;
  }
}
