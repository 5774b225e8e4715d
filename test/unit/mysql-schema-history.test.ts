import { describe, expect, it } from 'vitest';
import { MysqlSchemaHistory, schemaEventsOf } from '../../src/connectors/mysql/mysql-schema-history.js';
import type { MysqlTable } from '../../src/connectors/mysql/mysql-schema-reader.js';
import type { ServerInfo } from '../../src/connectors/mysql/mysql-preflight.js';

const server: ServerInfo = {
  flavor: 'mariadb',
  version: '10.11.6-MariaDB',
  serverId: 1,
  identity: 'server-id:1',
  lowerCaseTableNames: 0,
};

function table(name: string, columns: string[]): MysqlTable {
  return {
    schema: {
      id: { namespace: 'shop', name },
      columns: columns.map((c) => ({ name: c, type: { kind: 'int32' }, nullable: c !== 'id', sourceType: 'int(11)' })),
      primaryKey: ['id'],
    },
    charsets: columns.map(() => null),
  };
}

function history(): MysqlSchemaHistory {
  return new MysqlSchemaHistory({ isCaptured: (id) => id.namespace === 'shop', server: () => server });
}

const charsets = { databases: new Map([['shop', 'utf8mb4']]), tables: new Map([['shop.t', 'utf8mb4']]) };

describe('MySQL schema history', () => {
  it('resumes with the schemas saved at the position, also for a table dropped since, and takes new tables as they are now', () => {
    const first = history();
    first.load(new Map([['shop.t', table('t', ['id', 'a'])]]), charsets, undefined);
    const saved = JSON.parse(JSON.stringify(first.save())) as ReturnType<MysqlSchemaHistory['save']>;

    const resumed = history();
    // information_schema now: t has a column more, and u is new; the saved t is what the binlog continues from.
    resumed.load(
      new Map([
        ['shop.t', table('t', ['id', 'a', 'later'])],
        ['shop.u', table('u', ['id'])],
      ]),
      charsets,
      saved,
    );
    expect(resumed.tables.get('shop.t')!.schema.columns.map((c) => c.name)).toEqual(['id', 'a']);
    expect(resumed.tables.get('shop.u')!.schema.columns.map((c) => c.name)).toEqual(['id']);
  });

  it('applies DDL from the binlog, and save() changes only when the schemas do', () => {
    const h = history();
    h.load(new Map([['shop.t', table('t', ['id', 'a'])]]), charsets, undefined);
    const before = h.save();
    expect(h.save()).toBe(before);
    const result = h.apply('ALTER TABLE t ADD COLUMN b INT FIRST', 'shop');
    expect(result.changes.map((c) => c.change)).toEqual(['addColumn']);
    expect(h.tables.get('shop.t')!.schema.columns.map((c) => c.name)).toEqual(['b', 'id', 'a']);
    expect(h.save()).not.toBe(before);
  });

  it('emits the column changes of a table under its old name before the table is renamed', () => {
    const h = history();
    h.load(new Map([['shop.t', table('t', ['id', 'a'])]]), charsets, undefined);
    const sql = 'ALTER TABLE t RENAME COLUMN a TO b, ADD COLUMN c INT, RENAME TO t2';
    const events = schemaEventsOf(h.apply(sql, 'shop').changes, sql, 1000);
    expect(events.map((e) => [e.change, e.table.name, e.schema.id.name])).toEqual([
      ['renameColumn', 't', 't'],
      ['renameTable', 't', 't2'],
    ]);
    expect(events[0]!.renamedColumns).toEqual([{ from: 'a', to: 'b' }]);
    expect(events[0]!.schema.columns.map((c) => c.name)).toEqual(['id', 'b', 'c']);
  });
});
