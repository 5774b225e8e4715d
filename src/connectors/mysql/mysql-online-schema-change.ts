import { tableIdToString, type TableId } from '../../core/index.js';
import { applyDdl, type DdlApplyContext, type DdlApplyResult, type DdlTableChange } from './ddl/ddl-apply.js';
import type { DdlStatement, DdlTableName } from './ddl/ddl-ast.js';
import type { DdlCharsetDefaults } from './ddl/ddl-charsets.js';
import type { MysqlTable } from './mysql-schema-reader.js';

/**
 * gh-ost and pt-online-schema-change change a table without locking it: they create a shadow table
 * (`_t_gho` / `_t_new`), ALTER it, copy the rows over while mirroring new changes into it, and finally swap the
 * two with one `RENAME TABLE t TO _t_del, _t_gho TO t` (pt-osc: `_t_old`, `_t_new`). Followed literally, the
 * captured table would be dropped and a new one created and snapshotted again.
 *
 * Instead, shadow tables are never captured (their rows are copies of the original's, which the binlog already
 * carries), their DDL is followed here beside the captured tables, and the swap becomes what it means: the
 * original table's schema changes to the shadow's — as the ALTER statements run on the shadow would have changed
 * the original, so renames stay renames. No row is read again.
 */

/** `_t_gho`, `_t_ghc`, `_t_del` (gh-ost, also `_t_<14-digit timestamp>_del`), `_t_new`, `_t_old` (pt-osc). */
const SHADOW_NAME = /^_(.+?)(?:_\d{14})?_(gho|ghc|del|new|old)$/;

/** Whether a table name is one that gh-ost or pt-online-schema-change gives its helper tables. */
export function isShadowTableName(name: string): boolean {
  return SHADOW_NAME.test(name);
}

/** The table a shadow table is built for (`_t_gho` → `t`), if it is the new-table kind (`gho`, `new`). */
function originalOfNewShadow(name: string): string | undefined {
  const match = SHADOW_NAME.exec(name);
  return match && (match[2] === 'gho' || match[2] === 'new') ? match[1] : undefined;
}

interface Shadow {
  readonly original: string;
  readonly table: MysqlTable;
  /** The ALTER TABLE statements run on the shadow, in order. */
  readonly alters: readonly Extract<DdlStatement, { kind: 'alterTable' }>[];
}

/** What the captured tables' history does with a statement that concerns a shadow table. */
export type OnlineSchemaChangeOutcome =
  /** Not about a shadow table: apply the statement as usual. */
  | { readonly kind: 'none' }
  /** Followed on the shadow only: the captured tables did not change (the default charsets may have). */
  | { readonly kind: 'shadow'; readonly charsets: DdlCharsetDefaults }
  /** The swap: the result for the captured tables. */
  | { readonly kind: 'swap'; readonly result: DdlApplyResult };

/** Follows the shadow tables of online schema changes of captured tables. */
export class OnlineSchemaChanges {
  private readonly shadows = new Map<string, Shadow>();

  /**
   * Looks at one statement before it is applied to `tables` (the captured tables) and either follows it on a
   * shadow table, performs a swap, or leaves it to the caller.
   */
  follow(
    tables: ReadonlyMap<string, MysqlTable>,
    database: string,
    statement: DdlStatement,
    context: DdlApplyContext,
  ): OnlineSchemaChangeOutcome {
    const id = (name: DdlTableName): TableId => resolve(name, database, context);
    switch (statement.kind) {
      case 'createTable':
      case 'createTableLike': {
        const shadowId = id(statement.table);
        const original = originalOfNewShadow(shadowId.name);
        const originalKey = original === undefined ? undefined : tableIdToString({ ...shadowId, name: original });
        if (originalKey === undefined || !tables.has(originalKey)) return { kind: 'none' };
        const key = tableIdToString(shadowId);
        const result = applyDdl(new Map(tables), database, statement, {
          ...context,
          isCaptured: (t) => sameKey(t, key),
        });
        const table = result.tables.get(key);
        if (table) this.shadows.set(key, { original: originalKey, table, alters: [] });
        return { kind: 'shadow', charsets: result.charsets };
      }
      case 'alterTable': {
        const key = tableIdToString(id(statement.table));
        const shadow = this.shadows.get(key);
        if (!shadow) return { kind: 'none' };
        const result = applyDdl(new Map([[key, shadow.table]]), database, statement, {
          ...context,
          isCaptured: (t) => sameKey(t, key),
        });
        const table = result.tables.get(key);
        if (!table || result.reread.length > 0)
          this.shadows.delete(key); // not followed: the swap reads again
        else this.shadows.set(key, { ...shadow, table, alters: [...shadow.alters, statement] });
        return { kind: 'shadow', charsets: result.charsets };
      }
      case 'dropTable':
        for (const name of statement.tables) this.shadows.delete(tableIdToString(id(name)));
        return { kind: 'none' };
      case 'renameTable':
        return this.swap(tables, database, statement, context);
      default:
        return { kind: 'none' };
    }
  }

  /** `RENAME TABLE t TO _t_del, _t_gho TO t`: the captured `t` takes the shadow's schema; nothing else moves. */
  private swap(
    tables: ReadonlyMap<string, MysqlTable>,
    database: string,
    statement: Extract<DdlStatement, { kind: 'renameTable' }>,
    context: DdlApplyContext,
  ): OnlineSchemaChangeOutcome {
    const renames = statement.renames.map((r) => ({
      from: resolve(r.from, database, context),
      to: resolve(r.to, database, context),
    }));
    const swapped = renames.filter(
      (r) =>
        originalOfNewShadow(r.from.name) !== undefined &&
        tables.has(tableIdToString(r.to)) &&
        renames.some((o) => sameKey(o.from, tableIdToString(r.to)) && isShadowTableName(o.to.name)),
    );
    if (swapped.length === 0 || swapped.length * 2 !== renames.length) return { kind: 'none' };
    let current = new Map(tables);
    const changes: DdlTableChange[] = [];
    const reread: TableId[] = [];
    const tableCharsets = new Map(context.charsets.tables);
    for (const { from, to } of swapped) {
      const key = tableIdToString(to);
      const shadow = this.shadows.get(tableIdToString(from));
      this.shadows.delete(tableIdToString(from));
      const shadowCharset = tableCharsets.get(tableIdToString(from));
      if (shadowCharset !== undefined) tableCharsets.set(key, shadowCharset);
      const previous = current.get(key)!;
      if (!shadow) {
        reread.push(to); // the migration began before the pipeline saw its shadow: read the table again
        continue;
      }
      // Run the shadow's ALTERs on the original: the same schema, with renames and change kinds intact.
      let replayed: Map<string, MysqlTable> | undefined = new Map(current);
      const replayedChanges: DdlTableChange[] = [];
      for (const alter of shadow.alters) {
        const result = applyDdl(
          replayed,
          to.namespace,
          { ...alter, table: { database: to.namespace, name: to.name } },
          context,
        );
        if (result.reread.length > 0 || result.unknown !== undefined) {
          replayed = undefined;
          break;
        }
        replayed = new Map(result.tables);
        replayedChanges.push(...result.changes);
      }
      const target: MysqlTable = { ...shadow.table, schema: { ...shadow.table.schema, id: to } };
      if (replayed && JSON.stringify(replayed.get(key)) === JSON.stringify(target)) {
        current = replayed;
        changes.push(...replayedChanges);
      } else {
        current.set(key, target);
        changes.push({ table: to, change: 'refreshTable', previous, current: target });
      }
    }
    return {
      kind: 'swap',
      result: { tables: current, changes, reread, charsets: { ...context.charsets, tables: tableCharsets } },
    };
  }
}

function resolve(name: DdlTableName, database: string, context: DdlApplyContext): TableId {
  const fold = (s: string) => (context.lowerCaseTableNames ? s.toLowerCase() : s);
  return { namespace: fold(name.database ?? database), name: fold(name.name) };
}

function sameKey(id: TableId, key: string): boolean {
  return tableIdToString(id) === key;
}
