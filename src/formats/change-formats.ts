import type { OptionSpec, OptionValues } from '../core/option-spec.js';
import { canalJsonFormat } from './canal-json.js';
import type { ChangeFormat, FormatContext } from './change-format.js';
import { debeziumJsonFormat, type DebeziumJsonOptions } from './debezium-json.js';
import { plainJsonFormat } from './plain-json.js';

export type { DebeziumJsonOptions };

/** The formats a log sink (`nats`, `kafka`) writes. */
export type ChangeFormatName = ChangeFormat['name'];
export const CHANGE_FORMAT_NAMES: readonly ChangeFormatName[] = ['debezium-json', 'canal-json', 'json'];

/** The writer of format `name`. */
export function changeFormat(
  name: ChangeFormatName,
  debezium: DebeziumJsonOptions,
  context: FormatContext,
): ChangeFormat {
  switch (name) {
    case 'canal-json':
      return canalJsonFormat(context);
    case 'json':
      return plainJsonFormat();
    case 'debezium-json':
      return debeziumJsonFormat(debezium, context);
  }
}

/** Debezium's own option names, under `debezium-json.`. */
export const debeziumJsonOptions: readonly OptionSpec[] = [
  {
    key: 'debezium-json.schema-include',
    type: 'boolean',
    default: true,
    description:
      'Write the Kafka Connect `schema` part beside `payload` (the JSON converter default, `schemas.enable=true`). ' +
      'The `nats` and `kafka` sources need it to read the log back.',
  },
  {
    key: 'debezium-json.tombstones',
    type: 'boolean',
    default: true,
    description: 'After each delete, a tombstone: the key with an empty value (Debezium `tombstones.on.delete`).',
  },
  {
    key: 'debezium-json.decimal.handling.mode',
    type: 'enum',
    values: ['precise', 'string', 'double'],
    default: 'precise',
    description:
      'DECIMAL as Kafka Connect `Decimal` (base64 of the unscaled two’s complement bytes; exact), as a string ' +
      '(exact), or as a double (loses digits).',
  },
  {
    key: 'debezium-json.bigint.unsigned.handling.mode',
    type: 'enum',
    values: ['long', 'precise'],
    default: 'long',
    description:
      'BIGINT UNSIGNED as int64 (a value above 2^63-1 stops the pipeline with FORMAT_VALUE_UNREPRESENTABLE) or as ' +
      '`Decimal` with precision 20.',
  },
  {
    key: 'debezium-json.binary.handling.mode',
    type: 'enum',
    values: ['bytes', 'base64', 'base64-url-safe', 'hex'],
    default: 'bytes',
    description: 'Binary columns as Kafka Connect bytes (base64 text in JSON), or as base64, base64url or hex strings.',
  },
];

export function debeziumJsonOptionsOf(values: OptionValues): DebeziumJsonOptions {
  return {
    schemaInclude: values['debezium-json.schema-include'] !== false,
    tombstones: values['debezium-json.tombstones'] !== false,
    decimalHandling: (values['debezium-json.decimal.handling.mode'] ??
      'precise') as DebeziumJsonOptions['decimalHandling'],
    bigintUnsignedHandling: (values['debezium-json.bigint.unsigned.handling.mode'] ??
      'long') as DebeziumJsonOptions['bigintUnsignedHandling'],
    binaryHandling: (values['debezium-json.binary.handling.mode'] ?? 'bytes') as DebeziumJsonOptions['binaryHandling'],
  };
}
