import { NatsError } from 'nats';
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
        return new TributaryError(code('SOURCE_TIMEOUT', 'SINK_TIMEOUT'), `${what}: ${message}`, { cause: error });
      case '503':
        return new TributaryError(code('SOURCE_UNREACHABLE', 'SINK_UNREACHABLE'), `${what}: JetStream is not enabled`, {
          cause: error,
          hint: 'start nats-server with JetStream (-js, or a jetstream {} block in its configuration)',
        });
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
