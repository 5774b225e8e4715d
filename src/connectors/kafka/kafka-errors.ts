import { TributaryError, type ErrorCode } from '../../core/errors.js';

/** Kafka protocol error codes this connector tells apart (the `code` of kafkajs' protocol errors). */
const INVALID_PRODUCER_EPOCH = 47;
const PRODUCER_FENCED = 90;
const TRANSACTIONAL_ID_AUTHORIZATION_FAILED = 53;
const TOPIC_AUTHORIZATION_FAILED = 29;
const GROUP_AUTHORIZATION_FAILED = 30;
const CLUSTER_AUTHORIZATION_FAILED = 31;
const MESSAGE_TOO_LARGE = 10;
const RECORD_LIST_TOO_LARGE = 18;
const SASL_AUTHENTICATION_FAILED = 58;

interface KafkaJsError {
  readonly name?: string;
  readonly code?: number;
  readonly message?: string;
  readonly cause?: unknown;
  readonly originalError?: unknown;
}

/** The innermost kafkajs error: kafkajs wraps the last failure of its retries in KafkaJSNumberOfRetriesExceeded. */
function innermost(error: unknown): KafkaJsError {
  let e = error as KafkaJsError;
  for (let depth = 0; depth < 5 && e && e.name === 'KafkaJSNumberOfRetriesExceeded' && e.cause; depth++) {
    e = e.cause;
  }
  return e ?? {};
}

/**
 * A kafkajs error → TributaryError, by the error's class name and Kafka's protocol error code, never by text.
 * `side` picks SOURCE_… or SINK_… codes.
 */
export function classifyKafkaError(error: unknown, side: 'source' | 'sink', what: string): TributaryError {
  if (error instanceof TributaryError) return error;
  const e = innermost(error);
  const code = (sourceCode: ErrorCode, sinkCode: ErrorCode): ErrorCode => (side === 'source' ? sourceCode : sinkCode);
  const message = `${what}: ${e.message ?? String(error)}`;
  if (e.code === INVALID_PRODUCER_EPOCH || e.code === PRODUCER_FENCED) {
    return new TributaryError('SINK_FENCED', `${what}: another producer with the same transactional.id took over`, {
      cause: error,
      hint: 'run one pipeline per transactional id (sink option sink.transactional-id-prefix and the pipeline name)',
    });
  }
  switch (e.code) {
    case TRANSACTIONAL_ID_AUTHORIZATION_FAILED:
    case TOPIC_AUTHORIZATION_FAILED:
    case GROUP_AUTHORIZATION_FAILED:
    case CLUSTER_AUTHORIZATION_FAILED:
      return new TributaryError(code('SOURCE_PRIVILEGES_MISSING', 'SINK_PRIVILEGES_MISSING'), message, {
        cause: error,
        hint: 'grant the principal WRITE and DESCRIBE on the topics, WRITE on the transactional id, READ on the group (docs/connectors/kafka.md)',
      });
    case MESSAGE_TOO_LARGE:
    case RECORD_LIST_TOO_LARGE:
      return new TributaryError('SINK_WRITE_FAILED', message, {
        cause: error,
        retryable: false,
        hint: 'raise the topic’s max.message.bytes (a row larger than it cannot be produced)',
      });
    case SASL_AUTHENTICATION_FAILED:
      return authFailed(side, message, error);
    default:
      break;
  }
  switch (e.name) {
    case 'KafkaJSSASLAuthenticationError':
      return authFailed(side, message, error);
    case 'KafkaJSConnectionError':
    case 'KafkaJSConnectionClosedError':
    case 'KafkaJSNoBrokerAvailableError':
    case 'KafkaJSBrokerNotFound':
      return new TributaryError(code('SOURCE_UNREACHABLE', 'SINK_UNREACHABLE'), message, {
        cause: error,
        hint: 'check option `properties.bootstrap.servers` and that the brokers run',
      });
    case 'KafkaJSRequestTimeoutError':
    case 'KafkaJSTimeout':
      return new TributaryError(code('SOURCE_TIMEOUT', 'SINK_TIMEOUT'), message, { cause: error });
    default:
      return new TributaryError(code('SOURCE_QUERY_FAILED', 'SINK_WRITE_FAILED'), message, { cause: error });
  }
}

function authFailed(side: 'source' | 'sink', message: string, error: unknown): TributaryError {
  return new TributaryError(side === 'source' ? 'SOURCE_AUTH_FAILED' : 'SINK_AUTH_FAILED', message, {
    cause: error,
    hint: 'check options `sasl.username`, `sasl.password` and `properties.sasl.mechanism`',
  });
}
