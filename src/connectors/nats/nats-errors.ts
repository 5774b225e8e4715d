import { setTimeout as sleep } from 'node:timers/promises';
import { NatsError, type JetStreamManager, type StreamInfo } from 'nats';
import { TributaryError, type ErrorCode } from '../../core/errors.js';

/** JetStream API error codes (`err_code`) this connector tells apart. */
export const JS_WRONG_LAST_SEQUENCE = 10071;
export const JS_NO_MESSAGE_FOUND = 10037;
export const JS_STREAM_NOT_FOUND = 10059;
export const JS_CONSUMER_NOT_FOUND = 10014;

/** The JetStream `err_code` of `error`, if it is a JetStream API error. */
export function jetStreamErrorCode(error: unknown): number | undefined {
  return error instanceof NatsError ? error.api_error?.err_code : undefined;
}

/**
 * A NATS client error → TributaryError, by the client's error code and JetStream's `err_code`, never by text.
 * `side` picks SOURCE_… or SINK_… codes.
 */
export function classifyNatsError(error: unknown, side: 'source' | 'sink', what: string): TributaryError {
  if (error instanceof TributaryError) return error;
  const code = (sourceCode: ErrorCode, sinkCode: ErrorCode): ErrorCode => (side === 'source' ? sourceCode : sinkCode);
  const message = error instanceof Error ? error.message : String(error);
  if (jetStreamErrorCode(error) === JS_WRONG_LAST_SEQUENCE) {
    return new TributaryError('SINK_FENCED', `${what}: another writer appended to the stream (wrong last sequence)`, {
      cause: error,
      hint: 'run one pipeline per stream; after a crash the pipeline fences the stream again on restart',
    });
  }
  if (error instanceof NatsError) {
    switch (error.code) {
      case 'CONNECTION_REFUSED':
      case 'DISCONNECT':
      case 'CONNECTION_CLOSED':
        return new TributaryError(code('SOURCE_UNREACHABLE', 'SINK_UNREACHABLE'), `${what}: ${message}`, {
          cause: error,
          hint: 'check option `servers` and that nats-server runs (with JetStream: -js)',
        });
      case 'AUTHORIZATION_VIOLATION':
      case 'BAD_AUTHENTICATION':
      case 'AUTHENTICATION_EXPIRED':
      case 'BAD_CREDS':
        return new TributaryError(code('SOURCE_AUTH_FAILED', 'SINK_AUTH_FAILED'), `${what}: ${message}`, {
          cause: error,
          hint: 'check options `username` / `password` or `token`',
        });
      case 'PERMISSIONS_VIOLATION':
        return new TributaryError(code('SOURCE_PRIVILEGES_MISSING', 'SINK_PRIVILEGES_MISSING'), `${what}: ${message}`, {
          cause: error,
          hint: 'allow the user to publish and subscribe on the stream subjects and on $JS.API.>',
        });
      case 'TIMEOUT':
      case 'CONNECTION_TIMEOUT':
      case '408':
        return new TributaryError(code('SOURCE_TIMEOUT', 'SINK_TIMEOUT'), `${what}: ${message}`, {
          cause: error,
          hint: "NATS did not answer in time (a server away or overloaded, or a JetStream cluster electing a leader); the pipeline retries — if it persists, check that the servers in option `servers` run, a majority of a cluster's among them",
        });
      case '503':
        // No responders: JetStream is off, or (in a cluster) nothing answers this request for the moment — a
        // server died and the stream or the meta group has no leader yet. Retried either way.
        return new TributaryError(
          code('SOURCE_UNREACHABLE', 'SINK_UNREACHABLE'),
          `${what}: no JetStream responder (JetStream not enabled, or no leader at the moment)`,
          {
            cause: error,
            hint: 'start nats-server with JetStream (-js, or a jetstream {} block in its configuration); in a cluster, a majority of its servers must run',
          },
        );
      case 'MAX_PAYLOAD_EXCEEDED':
        return new TributaryError('SINK_WRITE_FAILED', `${what}: ${message}`, {
          cause: error,
          retryable: false,
          hint: 'raise max_payload of nats-server (a row larger than it cannot be published)',
        });
      default:
        break;
    }
  }
  return new TributaryError(code('SOURCE_QUERY_FAILED', 'SINK_WRITE_FAILED'), `${what}: ${message}`, { cause: error });
}

/** How long {@link streamInfoWithLeader} waits for a replicated stream to elect its leader. */
const LEADER_WAIT_MS = 30_000;

/**
 * The info of stream `name`, null when it does not exist. A replicated stream just created (by another process:
 * the capture and the apply workers of a scale-out pipeline race to create it) has no leader for a moment, and
 * the requests only a leader answers — a message by subject, a publish — go unanswered until it has one: this
 * waits for the leader (up to 30 s, then SINK_UNREACHABLE / SOURCE_UNREACHABLE saying so).
 */
export async function streamInfoWithLeader(
  jsm: JetStreamManager,
  name: string,
  side: 'source' | 'sink',
): Promise<StreamInfo | null> {
  const deadline = Date.now() + LEADER_WAIT_MS;
  for (;;) {
    let info: StreamInfo;
    try {
      info = await jsm.streams.info(name);
    } catch (error) {
      if (jetStreamErrorCode(error) === JS_STREAM_NOT_FOUND) return null;
      throw error;
    }
    if (info.cluster === undefined || info.cluster.leader) return info;
    if (Date.now() >= deadline) {
      throw new TributaryError(
        side === 'source' ? 'SOURCE_UNREACHABLE' : 'SINK_UNREACHABLE',
        `stream ${name} has no leader after ${LEADER_WAIT_MS / 1000} s`,
        { hint: 'a replicated stream needs a majority of its servers running: check the JetStream cluster' },
      );
    }
    await sleep(LEADER_POLL_MS);
  }
}

const LEADER_POLL_MS = 200;
