import { TributaryError } from '../../core/errors.js';
import { tableIdToString, type TableId } from '../../core/table-schema.js';

/** Kafka's limit on a topic name's length. */
const MAX_TOPIC_LENGTH = 249;

/**
 * Which topic each table's changes go to: `sink.tableId-to-topic.mapping` first (Flink CDC's
 * `db.table:topic;…`), else option `topic` — one topic for every table, or a pattern with `{db}` and `{table}`
 * — by default `{db}.{table}` (Flink CDC's default, the table id). Characters Kafka does not allow in topic
 * names become `_` (as Debezium's topic naming does).
 */
export interface TopicRouter {
  topicOf(table: TableId): string;
}

export function topicRouter(pattern: string, mapping: ReadonlyMap<string, string>): TopicRouter {
  const cache = new Map<string, string>();
  return {
    topicOf(table) {
      const id = tableIdToString(table);
      let topic = cache.get(id);
      if (topic === undefined) {
        topic =
          mapping.get(id) ??
          kafkaTopicName(pattern.replace(/\{db\}/g, table.namespace).replace(/\{table\}/g, table.name));
        checkTopicName(topic, `the topic of ${id}`);
        cache.set(id, topic);
      }
      return topic;
    },
  };
}

/** A name with every character Kafka forbids in topic names (all but letters, digits, `.`, `_`, `-`) as `_`. */
export function kafkaTopicName(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]/g, '_');
}

/** Refuses names Kafka refuses: empty, `.` or `..`, too long, or with a forbidden character. */
export function checkTopicName(topic: string, what: string): void {
  const problem =
    topic === '' || topic === '.' || topic === '..'
      ? 'is not a valid topic name'
      : topic.length > MAX_TOPIC_LENGTH
        ? `is longer than ${MAX_TOPIC_LENGTH} characters`
        : /[^A-Za-z0-9._-]/.test(topic)
          ? 'holds characters other than letters, digits, `.`, `_` and `-`'
          : undefined;
  if (problem) {
    throw new TributaryError('CONFIG_INVALID', `${what}, '${topic}', ${problem}`, {
      hint: 'set sink option `topic` (a pattern with {db} and {table}) or `sink.tableId-to-topic.mapping`',
    });
  }
}

/**
 * Flink CDC's `sink.tableId-to-topic.mapping`: `db.table:topic` pairs separated by `;`. Returns what is wrong,
 * or the map.
 */
export function parseTopicMapping(text: string): Map<string, string> | string {
  const mapping = new Map<string, string>();
  for (const pair of text.split(';')) {
    if (pair.trim() === '') continue;
    const colon = pair.lastIndexOf(':');
    const table = pair.slice(0, colon).trim();
    const topic = pair.slice(colon + 1).trim();
    if (colon < 0 || table === '' || topic === '') {
      return `'${pair}' is not db.table:topic (write pairs like mydb.orders:orders;mydb.items:items)`;
    }
    if (/[^A-Za-z0-9._-]/.test(topic) || topic.length > MAX_TOPIC_LENGTH) return `'${topic}' is not a valid topic name`;
    mapping.set(table, topic);
  }
  return mapping;
}

/** The default checkpoint topic of a pipeline: `_tributary.<pipeline>.checkpoints`. */
export function defaultCheckpointTopic(pipeline: string): string {
  return `_tributary.${kafkaTopicName(pipeline)}.checkpoints`;
}
