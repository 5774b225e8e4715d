import type { OptionSpec } from '../core/option-spec.js';
import type { ConfigReader, Entry } from './config-reader.js';
import { didYouMean } from './did-you-mean.js';
import type { ConnectorDef } from './pipeline-def.js';
import { readOptions } from './read-options.js';
import { schemaChangeListEntry, SINK_SCHEMA_CHANGE_OPTIONS } from './sink-schema-change-options.js';

export type ConnectorRole = 'source' | 'sink';

/** How the loader learns which connectors exist and what options each takes (config never imports connectors). */
export interface ConnectorLookup {
  optionSpecsFor(type: string, role: ConnectorRole): readonly OptionSpec[] | undefined;
  /** The registered types, listed in "unknown type" messages. */
  knownTypes?(role: ConnectorRole): readonly string[];
}

/** Reads a `source:` or `sink:` block: `type:` picks the connector, whose OptionSpecs validate the rest. */
export function readConnector(
  reader: ConfigReader,
  block: Entry | undefined,
  role: ConnectorRole,
  lookup: ConnectorLookup,
): ConnectorDef | undefined {
  const known = lookup.knownTypes?.(role) ?? [];
  const example = known[0] ?? (role === 'source' ? 'mysql' : 'postgres');
  if (block === undefined) {
    reader.report(0, role, `missing — add a \`${role}:\` block with \`type: ${example}\` and its options`);
    return undefined;
  }
  const entries = reader.entries(block.value, block.path, `the ${role}'s options (\`type: ${example}\`, …)`);
  if (entries === undefined) return undefined;

  const typeEntry = entries.find((e) => e.key === 'type');
  const typeValue = typeEntry === undefined ? undefined : reader.scalar(typeEntry);
  let specs: readonly OptionSpec[] | undefined;
  let type: string | undefined;
  if (typeEntry === undefined || typeValue === null) {
    reader.report(typeEntry?.keyNode ?? block.keyNode, `${role}.type`, `missing — add \`type: ${example}\``);
  } else if (typeValue !== undefined) {
    type = typeValue.text.trim();
    specs = lookup.optionSpecsFor(type, role);
    if (specs === undefined) {
      const near = didYouMean(type, known);
      const list = known.length === 0 ? '' : ` — known ${role} types: ${known.join(', ')}`;
      const suggestion = near === undefined ? '' : `; did you mean "${near}"?`;
      reader.report(
        typeValue.node,
        `${role}.type`,
        `unknown ${role} type "${type}"${list}${suggestion}`,
        'CONNECTOR_UNKNOWN',
      );
    }
  }

  const nameEntry = entries.find((e) => e.key === 'name');
  const name = nameEntry === undefined ? undefined : reader.scalar(nameEntry)?.text;
  const optionEntries = entries.filter((e) => e.key !== 'type' && e.key !== 'name');
  if (specs === undefined || type === undefined) {
    // Still report missing environment variables and malformed values, so one run shows everything.
    for (const entry of optionEntries) reader.scalar(entry);
    return undefined;
  }
  const options = readOptions(
    reader,
    role === 'sink' ? optionEntries.map(schemaChangeListEntry) : optionEntries,
    role === 'sink' ? [...specs, ...SINK_SCHEMA_CHANGE_OPTIONS] : specs,
    {
      path: role,
      at: block.keyNode,
      owner: `the ${type} ${role}`,
    },
  );
  return { type, ...(name === undefined ? {} : { name }), options };
}
