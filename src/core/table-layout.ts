/**
 * How a sink should lay out a table it creates, from Flink CDC's transform keys `partition-keys` and
 * `table-options`. Only read when the sink creates the table; an existing table is never changed to fit it.
 * Each sink takes what it has a notion of (docs/connectors/postgres.md, duckdb.md) and names the rest.
 */
export interface TableLayout {
  /** Output columns to partition the table by, in order. */
  readonly partitionKeys?: readonly string[];
  /** `table-options` as written (`key=value` pairs), by key. */
  readonly options?: Readonly<Record<string, string>>;
}

/**
 * Parses Flink CDC's `table-options` text: `key1=value1,key2=value2`, split at `delimiter` (`,` by default),
 * each pair at its first `=`, keys and values trimmed. Returns the pairs, or what is wrong with the text.
 */
export function parseTableOptions(
  text: string,
  delimiter = ',',
): { options: Record<string, string> } | { problem: string } {
  const options: Record<string, string> = {};
  for (const part of text.split(delimiter)) {
    if (part.trim() === '') continue;
    const eq = part.indexOf('=');
    const key = eq < 0 ? '' : part.slice(0, eq).trim();
    if (key === '') {
      return {
        problem: `"${part.trim()}" is not key=value — write e.g. \`table-options: fillfactor=70\` (pairs separated by "${delimiter}")`,
      };
    }
    options[key] = part.slice(eq + 1).trim();
  }
  return { options };
}
