import type { OptionSpec, OptionValues } from '../../core/option-spec.js';

/** The options every sink that keeps its checkpoints in a table of its own has (see src/core/sink.ts). */
export const checkpointTableOptions: readonly OptionSpec[] = [
  {
    key: 'checkpoint.schema',
    type: 'string',
    default: 'tributary',
    description: 'Schema of the checkpoint table, created if missing.',
  },
  {
    key: 'checkpoint.table',
    type: 'string',
    default: 'checkpoints',
    description:
      'Table that holds one row per pipeline: the source position whose effects are in the sink. It is written ' +
      'in the same transaction as the data.',
  },
];

/** Reads text options: a missing or empty value is `fallback`. */
export function optionText(values: OptionValues): (key: string, fallback: string) => string {
  return (key, fallback) => {
    const value = values[key];
    return value === undefined || value === '' ? fallback : String(value);
  };
}

/** Where the checkpoint table lives, from {@link checkpointTableOptions}. */
export function checkpointTableOf(values: OptionValues): { checkpointSchema: string; checkpointTable: string } {
  const text = optionText(values);
  return {
    checkpointSchema: text('checkpoint.schema', 'tributary'),
    checkpointTable: text('checkpoint.table', 'checkpoints'),
  };
}
