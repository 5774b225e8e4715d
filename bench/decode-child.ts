/**
 * Reads one binlog range with Tributary's binlog client (openBinlogStream: fetch + decode + batching) in a
 * process of its own, for the binlog-decode workload: its CPU time and peak RSS are then the reader's alone.
 * Protocol over the IPC channel: the parent sends a DecodeRequest, the child answers one DecodeResult.
 */
import { performance } from 'node:perf_hooks';
import { openBinlogStream } from '../src/connectors/mysql/protocol/binlog-client.js';

export interface DecodeRequest {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly serverId: number;
  readonly file: string;
  readonly start: number;
  readonly end: number;
}

/** `rows`: row changes decoded (an update's two images count once). */
export type DecodeResult =
  | { readonly type: 'done'; readonly rows: number; readonly seconds: number; cpuSeconds: number; maxRssMb: number }
  | { readonly type: 'failed'; readonly message: string };

async function decode(request: DecodeRequest): Promise<DecodeResult> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  const stream = await openBinlogStream({
    host: request.host,
    port: request.port,
    user: request.user,
    password: request.password,
    serverId: request.serverId,
    file: request.file,
    position: request.start,
    stopAtEnd: true,
  });
  let rows = 0;
  for await (const batch of stream) {
    for (const event of batch) {
      // An update's before and after images alternate: one row change per pair.
      if (event.kind === 'rows') rows += event.action === 'update' ? event.rows.length / 2 : event.rows.length;
    }
    if (stream.position.file !== request.file || stream.position.pos >= request.end) await stream.close();
  }
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  return {
    type: 'done',
    rows,
    seconds,
    cpuSeconds: (used.user + used.system) / 1e6,
    maxRssMb: process.resourceUsage().maxRSS / 1024,
  };
}

process.once('message', (request: DecodeRequest) => {
  void decode(request)
    .catch((error: unknown): DecodeResult => ({ type: 'failed', message: String(error) }))
    .then((result) => process.send?.(result, undefined, {}, () => process.disconnect?.()));
});
