import type { ChangeEvent } from '../../core/change-event.js';
import { tableIdToString, type TableSchema } from '../../core/table-schema.js';
import { CanalJsonDecoder } from '../../formats/canal-json-decoder.js';
import { DebeziumJsonDecoder, type DecodedChange } from '../../formats/debezium-json.js';
import type { TableSelector } from '../../core/table-selector.js';

/** The formats a log source (`nats`, `kafka`) reads. */
export type LogSourceFormat = 'debezium-json' | 'canal-json';

/**
 * Turns the messages of a change log into change events, for the log sources (`nats`, `kafka`): decodes each
 * message with its format, keeps only the selected tables, and puts a schema event before a table's first
 * change in this run (`createTable`) and before the first change after its schema changed (`refreshTable`).
 */
export class LogChangeReader {
  private readonly decode: (value: string | null, key: string | null) => DecodedChange[];
  /** The schema last emitted per table in this run. */
  private readonly emitted = new Map<string, TableSchema>();
  /** Commit time of the last change read (ms since the epoch), 0 before any. */
  lastSourceTsMs = 0;

  constructor(
    format: LogSourceFormat,
    private readonly include: readonly TableSelector[],
    private readonly exclude: readonly TableSelector[],
  ) {
    if (format === 'canal-json') {
      const canal = new CanalJsonDecoder();
      this.decode = (value) => canal.decode(value);
    } else {
      const debezium = new DebeziumJsonDecoder();
      this.decode = (value, key) => {
        const one = debezium.decode(value, key);
        return one ? [one] : [];
      };
    }
  }

  /** Appends the events of one message to `out`; `position` becomes each data event's `source.position`. */
  read(value: string | null, key: string | null, position: string, out: ChangeEvent[]): void {
    for (const { event, schema } of this.decode(value, key)) {
      if (!this.selected(event.table.namespace, event.table.name)) continue;
      const name = tableIdToString(event.table);
      const before = this.emitted.get(name);
      if (before !== schema) {
        out.push({
          kind: 'schema',
          table: event.table,
          change: before ? 'refreshTable' : 'createTable',
          schema,
          source: { tsMs: event.source.tsMs },
        });
        this.emitted.set(name, schema);
      }
      out.push({ ...event, source: { ...event.source, position } });
      if (event.source.tsMs > 0) this.lastSourceTsMs = event.source.tsMs;
    }
  }

  private selected(namespace: string, name: string): boolean {
    return (
      (this.include.length === 0 || this.include.some((s) => s.matches(namespace, name))) &&
      !this.exclude.some((s) => s.matches(namespace, name))
    );
  }
}
