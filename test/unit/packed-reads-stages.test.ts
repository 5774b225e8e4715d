import { describe, expect, it } from 'vitest';
import type { ChangeEvent } from '../../src/core/change-event.js';
import type { DataType, Row } from '../../src/core/data-type.js';
import { unpackEvents, type StreamEvent } from '../../src/core/packed-rows.js';
import { parseTableSelector } from '../../src/core/table-selector.js';
import { tableId, type TableSchema } from '../../src/core/table-schema.js';
import { TextRowDecoder } from '../../src/connectors/mysql/protocol/text-row-decoder.js';
import { TextRowPacker } from '../../src/connectors/mysql/protocol/text-row-packer.js';
import { evolvingTransform } from '../../src/transform/schema-evolution/evolving-transform.js';
import { acceptedSchemaChanges } from '../../src/transform/schema-evolution/schema-change-types.js';
import { SchemaEvolutionOperator } from '../../src/transform/schema-evolution/schema-evolution-operator.js';
import type { TransformRules } from '../../src/transform/rules.js';
import { TransformOperator } from '../../src/transform/transform-operator.js';
import { parseProjection } from '../../src/transform/projection.js';
import { rowPayload } from '../harness/text-row-payload.js';

/**
 * The route/transform and schema-evolution stage with packed snapshot reads: whatever it passes on packed or
 * unpacks, the rows the sink gets are exactly those it gets from the same events unpacked first.
 */

const INT64: DataType = { kind: 'int64' };
const TEXT: DataType = { kind: 'varchar', length: 64 };

function orders(db: string, extra = false): TableSchema {
  return {
    id: tableId(db, 'orders'),
    columns: [
      { name: 'id', type: INT64, nullable: false },
      { name: 'item', type: TEXT, nullable: true },
      ...(extra ? [{ name: 'note', type: TEXT, nullable: true }] : []),
    ],
    primaryKey: ['id'],
  };
}

function packed(schema: TableSchema, rows: readonly (string | null)[][]): StreamEvent {
  const types = schema.columns.map((c) => c.type);
  const packer = new TextRowPacker(types, new TextRowDecoder(types));
  for (const row of rows) {
    const payload = rowPayload(row);
    packer.add(payload, 0, payload.length);
  }
  return { kind: 'packed', table: schema.id, rows: packer.take(), source: { tsMs: 0 } };
}

const created = (schema: TableSchema): ChangeEvent => ({
  kind: 'schema',
  table: schema.id,
  change: 'createTable',
  schema,
  source: { tsMs: 0 },
});

function stage(rules: TransformRules) {
  return evolvingTransform(
    new TransformOperator(rules),
    new SchemaEvolutionOperator({ behavior: 'lenient', accepted: acceptedSchemaChanges(undefined, undefined) }),
  );
}

/** The same events through two fresh stages: packed as they are, and unpacked first. */
function bothWays(rules: TransformRules, events: readonly StreamEvent[]) {
  const viaPacked = stage(rules).processPacked(events);
  const viaRows = stage(rules).process(unpackEvents(events));
  return { viaPacked, viaRows };
}

const kinds = (events: readonly StreamEvent[]) =>
  events.map((e) => (e.kind === 'packed' ? `packed ${e.table.namespace}.${e.table.name}` : e.kind));
const readRows = (events: readonly ChangeEvent[]): (Row | null)[] =>
  events.flatMap((e) => (e.kind === 'data' ? [e.after] : []));

const ROUTE = { sourceTable: parseTableSelector('shop_[0-9]+.orders'), sinkTable: 'public.orders' };

describe('packed reads through the transform and schema-evolution stage', () => {
  it('with neither rules nor routes, a packed run passes as it is', () => {
    const a = orders('shop_1');
    const events = [
      created(a),
      packed(a, [
        ['1', 'x'],
        ['2', null],
      ]),
    ];
    const { viaPacked, viaRows } = bothWays({ transforms: [], routes: [] }, events);
    expect(kinds(viaPacked)).toEqual(['schema', 'packed shop_1.orders']);
    expect(unpackEvents(viaPacked)).toEqual(viaRows);
  });

  it('shards of one schema routed to one table: each run passes packed, under the sink table', () => {
    const a = orders('shop_1');
    const b = orders('shop_2');
    const events = [
      created(a),
      created(b),
      packed(a, [['1', 'x']]),
      packed(b, [
        ['1', 'y'],
        ['2', 'z'],
      ]),
    ];
    const { viaPacked, viaRows } = bothWays({ transforms: [], routes: [ROUTE] }, events);
    expect(kinds(viaPacked).filter((k) => k !== 'schema')).toEqual(['packed public.orders', 'packed public.orders']);
    expect(unpackEvents(viaPacked)).toEqual(viaRows);
    expect(readRows(viaRows)).toEqual([
      [1n, 'x'],
      [1n, 'y'],
      [2n, 'z'],
    ]);
  });

  it('a shard narrower than the merged table is unpacked and its rows mapped; the widest passes packed', () => {
    const a = orders('shop_1');
    const b = orders('shop_2', true);
    const events = [created(a), created(b), packed(a, [['1', 'x']]), packed(b, [['2', 'y', 'n']])];
    const { viaPacked, viaRows } = bothWays({ transforms: [], routes: [ROUTE] }, events);
    expect(unpackEvents(viaPacked)).toEqual(viaRows);
    expect(readRows(viaRows)).toEqual([
      [1n, 'x', null],
      [2n, 'y', 'n'],
    ]);
    // shop_1's run is mapped row by row; shop_2 has the merged table's columns, so its run passes packed.
    expect(kinds(viaPacked).filter((k) => k !== 'schema')).toEqual(['data', 'packed public.orders']);
  });

  it('a projection reads the values: the run is unpacked and projected', () => {
    const a = orders('shop_1');
    const rules: TransformRules = {
      transforms: [
        {
          sourceTable: parseTableSelector('shop_1.orders'),
          projection: parseProjection('id, UPPER(item) AS item, __table_name__ AS t'),
        },
      ],
      routes: [],
    };
    const events = [
      created(a),
      packed(a, [
        ['1', 'x'],
        ['2', null],
      ]),
    ];
    const { viaPacked, viaRows } = bothWays(rules, events);
    expect(kinds(viaPacked)).not.toContain('packed shop_1.orders');
    expect(unpackEvents(viaPacked)).toEqual(viaRows);
    expect(readRows(viaRows)).toEqual([
      [1n, 'X', 'orders'],
      [2n, null, 'orders'],
    ]);
  });
});
