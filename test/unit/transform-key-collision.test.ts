import { describe, expect, it } from 'vitest';
import { parsePipelineYaml } from '../../src/config/load-pipeline.js';
import type { OptionSpec } from '../../src/core/option-spec.js';
import { tableId, tableIdToString, type TableSchema } from '../../src/core/table-schema.js';
import { collidingTables, keyCollisionFix, keyCollisions } from '../../src/transform/key-collision.js';
import { planTable } from '../../src/transform/table-plan.js';

const PERMISSIVE: readonly OptionSpec[] = [{ key: 'tables', type: 'table-patterns', description: '' }];

/** The rules of a pipeline that merges user_db*.user* into public.users, with `transform` as given. */
function rules(transform: string) {
  return parsePipelineYaml(
    `source:
  type: mysql
  tables: user_db[0-9]+.user[0-9]+
sink:
  type: postgres
${transform}
route:
  - source-table: user_db[0-9]+.user[0-9]+
    sink-table: public.users
`,
    { file: 'p.yaml', env: {}, optionSpecsFor: () => PERMISSIVE },
  );
}

function users(db: string, table: string): TableSchema {
  return {
    id: tableId(db, table),
    columns: [
      { name: 'id', type: { kind: 'int64' }, nullable: false },
      { name: 'name', type: { kind: 'string' }, nullable: true },
    ],
    primaryKey: ['id'],
  };
}

const SHARDS = [users('user_db1', 'user01'), users('user_db1', 'user02'), users('user_db2', 'user01')];

function collisions(transform: string) {
  const def = rules(transform);
  return keyCollisions(SHARDS.map((s) => planTable(s, def)));
}

describe('merged tables whose key does not tell them apart', () => {
  it('the source key alone: every pair collides', () => {
    const [collision, ...more] = collisions('');
    expect(more).toEqual([]);
    expect(tableIdToString(collision!.sinkTable)).toBe('public.users');
    expect(collision!.tables.map(tableIdToString)).toEqual(['user_db1.user01', 'user_db1.user02', 'user_db2.user01']);
    expect(collision!.pairs).toEqual([
      [0, 1],
      [0, 2],
      [1, 2],
    ]);
    expect(collision!.sourceKeys).toEqual([['id'], ['id'], ['id']]);
  });

  it('__table_name__ in the key: only the tables of the same name in two databases collide', () => {
    const [collision, ...more] = collisions(`transform:
  - source-table: user_db[0-9]+.user[0-9]+
    projection: \\*, __table_name__ AS _table_name
    primary-keys: _table_name, id`);
    expect(more).toEqual([]);
    expect(collision!.tables.map(tableIdToString)).toEqual(['user_db1.user01', 'user_db2.user01']);
    expect(keyCollisionFix(collision!.tables, collision!.sinkTable, collision!.key)).toContain(
      '__schema_name__ AS _db_name, __table_name__ AS _table_name',
    );
  });

  it('__schema_name__ and __table_name__ in the key: no collision', () => {
    expect(
      collisions(`transform:
  - source-table: user_db[0-9]+.user[0-9]+
    projection: \\*, __schema_name__ AS _db_name, __table_name__ AS _table_name
    primary-keys: _db_name, _table_name, id`),
    ).toEqual([]);
  });

  it('metadata columns projected but not in the key do not help', () => {
    expect(
      collisions(`transform:
  - source-table: user_db[0-9]+.user[0-9]+
    projection: \\*, __schema_name__ AS _db_name, __table_name__ AS _table_name`),
    ).toHaveLength(1);
  });

  it('a new shard is compared with the tables already planned', () => {
    const def = rules('');
    const [a, b] = [planTable(SHARDS[0]!, def), planTable(SHARDS[1]!, def)];
    expect(collidingTables(b, [a, b]).map(tableIdToString)).toEqual(['user_db1.user01']);
  });
});
