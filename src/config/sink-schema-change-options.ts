import { isScalar, isSeq, Scalar } from 'yaml';
import type { OptionSpec } from '../core/option-spec.js';
import { SCHEMA_CHANGE_LIST_NAMES } from '../transform/schema-evolution/schema-change-types.js';
import type { Entry } from './config-reader.js';

const NAME = `(?:${SCHEMA_CHANGE_LIST_NAMES.map((n) => n.replace('.', '\\.')).join('|')})`;
const LIST = new RegExp(`^\\s*\\[?\\s*${NAME}(?:\\s*,\\s*${NAME})*\\s*\\]?\\s*$`, 'i');

const pattern = {
  regex: LIST,
  description: `a list of schema change types (${SCHEMA_CHANGE_LIST_NAMES.join(', ')}), e.g. [add.column, alter.column.type]`,
};

/**
 * Options every sink takes, as in Flink CDC 3: which schema change types reach the sink table. Read by the
 * schema-evolution stage, not by the sink; declared here so that every sink type accepts them.
 */
export const SINK_SCHEMA_CHANGE_OPTIONS: readonly OptionSpec[] = [
  {
    key: 'include.schema.changes',
    type: 'string',
    pattern,
    description:
      'Schema change types the sink table receives (default: all): `create.table`, `add.column`, `alter.column.type`, `drop.column`, `rename.column`, `truncate.table`, `drop.table`, `rename.table`, or the groups `add`, `alter`, `create`, `drop`, `rename`, `truncate`, `column`, `table`. `create.table` is always received.',
  },
  {
    key: 'exclude.schema.changes',
    type: 'string',
    pattern,
    description:
      'Schema change types the sink table does not receive, named as in `include.schema.changes`; exclusion wins over inclusion.',
  },
];

/**
 * A YAML list (`[add.column, drop]` or one item per line) written for one of these options, as the comma-
 * separated text the option reads; other entries unchanged.
 */
export function schemaChangeListEntry(entry: Entry): Entry {
  const value = entry.value;
  if (!SINK_SCHEMA_CHANGE_OPTIONS.some((s) => s.key === entry.key) || !isSeq(value)) return entry;
  if (!value.items.every((item) => isScalar(item))) return entry;
  const text = new Scalar(value.items.map((item) => String(item.value)).join(', '));
  text.range = value.range;
  return { ...entry, value: text };
}
