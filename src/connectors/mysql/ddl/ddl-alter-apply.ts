import { columnDefaultFromDdl } from '../mysql-column-default.js';
import type { Column, ColumnRename, SchemaChangeType } from '../../../core/index.js';
import type { MysqlTable } from '../mysql-schema-reader.js';
import { mysqlNullable, type MysqlTypeOptions } from '../mysql-types.js';
import { charsetMaxBytes } from '../protocol/charsets.js';
import type { DdlAlterSpec, DdlColumnDefinition, DdlColumnPosition } from './ddl-ast.js';
import { TEXT_TYPES, textTypeBytes, textTypeFor } from './ddl-charsets.js';
import { resolveColumn, type DdlFlavor } from './ddl-column-info.js';

/** The statement cannot be followed on the schema we hold: the table must be read again. */
export class DdlApplyError extends Error {
  override readonly name = 'DdlApplyError';
}

export interface AlterTableContext {
  readonly flavor: DdlFlavor;
  /** The table's default character set after the statement's own DEFAULT CHARSET / CONVERT TO (throws if unknown). */
  readonly tableCharset: () => string;
  /** CONVERT TO CHARACTER SET: every column with a character set gets this one. */
  readonly convertTo?: string;
  readonly keyOverride?: string;
  /** The source options of the type mapping (default: none). */
  readonly typeOptions?: MysqlTypeOptions;
}

export interface AlteredTable {
  readonly table: MysqlTable;
  /** The kinds of change, in the order of their first clause. */
  readonly changes: readonly SchemaChangeType[];
  readonly renamedColumns: readonly ColumnRename[];
}

interface Slot {
  column: Column;
  charset: string | null;
}

const same = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();

/**
 * The columns of a table after ALTER TABLE's column clauses, the way MariaDB/MySQL build them
 * (mysql_prepare_alter_table): first the old columns in order, dropped ones left out and redefined ones
 * (CHANGE, MODIFY, RENAME COLUMN) replaced in place, all by their old names; then, in statement order, new
 * columns appended and columns with FIRST/AFTER moved — AFTER naming a column of the list built so far.
 */
export function alterColumns(
  previous: MysqlTable,
  specs: readonly DdlAlterSpec[],
  ctx: AlterTableContext,
): AlteredTable {
  const oldColumns = previous.schema.columns;
  // Kinds of change in clause order; a type change is known only once the key's NOT NULL is applied.
  const kinds: (SchemaChangeType | ((final: ReadonlyMap<Slot, Column>) => SchemaChangeType | undefined))[] = [];
  const typeChange = (old: Column, oldCharset: string | null, slot: Slot) => (final: ReadonlyMap<Slot, Column>) =>
    sameType(old, oldCharset, final.get(slot) ?? slot.column, slot.charset) ? undefined : ('alterColumnType' as const);
  const renamedColumns: ColumnRename[] = [];
  const find = (name: string): number => oldColumns.findIndex((c) => same(c.name, name));
  const dropped = new Set<number>();
  const redefined = new Map<number, Slot>(); // old column index → its new definition
  const positioned: { slot: Slot; position?: DdlColumnPosition; redefined: boolean }[] = [];
  let primaryKey: string[] | undefined;
  const pkRenames = new Map<string, string>();
  const build = (definition: DdlColumnDefinition): Slot => {
    const resolved = resolveColumn(
      convertDefinition(definition, ctx),
      ctx.tableCharset(),
      ctx.flavor,
      false,
      ctx.typeOptions,
    );
    if (definition.primaryKey) primaryKey = [definition.name];
    return { column: resolved.column, charset: resolved.charset };
  };
  const addedNames = new Set<string>();

  for (const spec of specs) {
    switch (spec.kind) {
      case 'addColumn': {
        const lower = spec.column.name.toLowerCase();
        const exists = (find(lower) >= 0 && !dropped.has(find(lower))) || addedNames.has(lower);
        if (exists && spec.ifNotExists) break;
        addedNames.add(lower);
        positioned.push({ slot: build(spec.column), redefined: false, ...posOf(spec.position) });
        kinds.push('addColumn');
        break;
      }
      case 'dropColumn': {
        const index = find(spec.name);
        if (index < 0 || dropped.has(index)) {
          if (spec.ifExists) break;
          throw new DdlApplyError(`column ${spec.name} not found`);
        }
        dropped.add(index);
        kinds.push('dropColumn');
        break;
      }
      case 'modifyColumn':
      case 'changeColumn':
      case 'renameColumn': {
        const oldName =
          spec.kind === 'modifyColumn' ? spec.column.name : spec.kind === 'changeColumn' ? spec.oldName : spec.from;
        const index = find(oldName);
        if (index < 0 || dropped.has(index) || redefined.has(index)) {
          if (spec.ifExists) break;
          throw new DdlApplyError(`column ${oldName} not found`);
        }
        const old = oldColumns[index]!;
        const slot =
          spec.kind === 'renameColumn'
            ? { column: { ...old, name: spec.to }, charset: previous.charsets[index] ?? null }
            : build(checkJsonRedefinition(old, spec.column, ctx));
        redefined.set(index, slot);
        if (slot.column.name !== old.name) {
          renamedColumns.push({ from: old.name, to: slot.column.name });
          pkRenames.set(old.name.toLowerCase(), slot.column.name);
          kinds.push('renameColumn');
        }
        kinds.push(typeChange(old, previous.charsets[index] ?? null, slot));
        if (spec.kind !== 'renameColumn' && spec.position)
          positioned.push({ slot, redefined: true, ...posOf(spec.position) });
        break;
      }
      case 'alterColumn':
        if (find(spec.name) < 0 && !spec.ifExists) throw new DdlApplyError(`column ${spec.name} not found`);
        break;
      case 'dropPrimaryKey':
        primaryKey = [];
        break;
      case 'addConstraint':
        if (spec.constraint.kind === 'primaryKey') {
          primaryKey = spec.constraint.parts.map((part) => {
            if (part.column === undefined) throw new DdlApplyError('a primary key on an expression');
            return part.column;
          });
        } else if (spec.constraint.kind === 'check' && spec.constraint.jsonValidColumn !== undefined) {
          throw new DdlApplyError('a json_valid check turns a column into JSON');
        }
        break;
      case 'dropConstraint':
        if (ctx.flavor === 'mariadb' && spec.what !== 'index' && spec.what !== 'foreignKey' && hasJson(previous)) {
          throw new DdlApplyError('dropping a check of a table with JSON columns (MariaDB JSON is a check)');
        }
        break;
      case 'unsupported':
        throw new DdlApplyError(spec.what);
      default:
        break; // table options, renames and clauses without effect: handled by the caller or nothing to do
    }
  }

  // Pass 1: the old columns, in order, dropped ones left out, redefined ones in place.
  const slots: Slot[] = [];
  oldColumns.forEach((column, index) => {
    if (dropped.has(index)) return;
    const redefinition = redefined.get(index);
    const charset = previous.charsets[index] ?? null;
    if (redefinition) slots.push(redefinition);
    else if (ctx.convertTo === undefined) slots.push({ column, charset });
    else {
      const converted = convertSlot(column, charset, ctx.convertTo);
      kinds.push(typeChange(column, charset, converted));
      slots.push(converted);
    }
  });
  // Pass 2: new columns and moved columns, in statement order.
  for (const entry of positioned) {
    if (entry.redefined) slots.splice(slots.indexOf(entry.slot), 1);
    const position = entry.position;
    if (position === undefined) slots.push(entry.slot);
    else if (position.kind === 'first') slots.unshift(entry.slot);
    else {
      const after = slots.findIndex((s) => same(s.column.name, position.column));
      if (after < 0) throw new DdlApplyError(`column ${position.column} not found`);
      slots.splice(after + 1, 0, entry.slot);
    }
  }

  const names = new Set(slots.map((s) => s.column.name.toLowerCase()));
  if (names.size !== slots.length) throw new DdlApplyError('duplicate column name');
  const key = finalPrimaryKey(
    primaryKey ?? previous.schema.primaryKey.map((c) => pkRenames.get(c.toLowerCase()) ?? c),
    slots,
    ctx.keyOverride,
  );
  const final = new Map<Slot, Column>();
  for (const s of slots) {
    const inKey = key.some((k) => same(k, s.column.name));
    final.set(
      s,
      inKey ? { ...s.column, nullable: mysqlNullable(dataTypeOf(s.column), false, ctx.typeOptions) } : s.column,
    );
  }
  // ALTER COLUMN … SET DEFAULT / DROP DEFAULT, in clause order, on the column as the statement leaves it.
  for (const spec of specs) {
    if (spec.kind !== 'alterColumn' || spec.defaultSql === undefined) continue;
    const slot = slots.find((s) => same(s.column.name, spec.name));
    const column = slot && final.get(slot);
    if (!slot || !column) continue;
    const { defaultValue: _dropped, ...rest } = column;
    const value = spec.defaultSql === null ? undefined : columnDefaultFromDdl(spec.defaultSql, column.type);
    final.set(slot, value === undefined ? rest : { ...rest, defaultValue: value });
  }
  const table: MysqlTable = {
    schema: { id: previous.schema.id, columns: [...final.values()], primaryKey: key },
    charsets: slots.map((s) => s.charset),
    ...(previous.zeroDates === undefined ? {} : { zeroDates: previous.zeroDates }),
  };
  const changes = new Set<SchemaChangeType>();
  for (const kind of kinds) {
    const resolved = typeof kind === 'function' ? kind(final) : kind;
    if (resolved !== undefined) changes.add(resolved);
  }
  if (changes.size === 0 && JSON.stringify(table) !== JSON.stringify(previous)) changes.add('refreshTable');
  return { table, changes: [...changes], renamedColumns };
}

function posOf(position: DdlColumnPosition | undefined): { position?: DdlColumnPosition } {
  return position === undefined ? {} : { position };
}

/** The primary key by the columns' actual names; columns that no longer exist leave it; the override when empty. */
export function finalPrimaryKey(
  wanted: readonly string[],
  slots: readonly Slot[],
  keyOverride: string | undefined,
): string[] {
  const key: string[] = [];
  for (const name of wanted) {
    const slot = slots.find((s) => same(s.column.name, name));
    if (slot) key.push(slot.column.name);
  }
  if (key.length === 0 && keyOverride !== undefined && slots.some((s) => s.column.name === keyOverride))
    return [keyOverride];
  return key;
}

/** DATA_TYPE of a column built by the MySQL mapping: its source type's first word (`datetime(6)` → datetime). */
export function dataTypeOf(column: Column): string {
  const text = column.sourceType ?? '';
  let end = 0;
  while (end < text.length && text[end] !== '(' && text[end] !== ' ') end++;
  return text.slice(0, end);
}

function sameType(old: Column, oldCharset: string | null, column: Column, charset: string | null): boolean {
  return (
    JSON.stringify(old.type) === JSON.stringify(column.type) &&
    old.nullable === column.nullable &&
    old.sourceType === column.sourceType &&
    oldCharset === charset
  );
}

function hasJson(table: MysqlTable): boolean {
  return table.schema.columns.some((c) => c.type.kind === 'json');
}

/**
 * MariaDB's JSON is a check: redefining a JSON column as LONGTEXT keeps it JSON when the check is the table's,
 * drops it when it was the column's own. We cannot tell which from the schema.
 */
function checkJsonRedefinition(
  old: Column,
  definition: DdlColumnDefinition,
  ctx: AlterTableContext,
): DdlColumnDefinition {
  if (
    ctx.flavor === 'mariadb' &&
    old.type.kind === 'json' &&
    definition.type.name !== 'json' &&
    !definition.jsonCheck
  ) {
    throw new DdlApplyError(`column ${old.name} was JSON; whether it stays JSON depends on where its check is`);
  }
  return definition;
}

/** Under CONVERT TO CHARACTER SET, new and redefined character columns take that character set. */
function convertDefinition(definition: DdlColumnDefinition, ctx: AlterTableContext): DdlColumnDefinition {
  const convertTo = ctx.convertTo;
  const type = definition.type;
  if (convertTo === undefined || type.charset === 'binary') return definition;
  const { collation: _collation, ...rest } = type;
  return { ...definition, type: { ...rest, charset: convertTo } };
}

/**
 * An existing column under CONVERT TO: character columns take the new character set; a TEXT column grows to
 * the type that holds as many characters as before (latin1 TEXT → utf8mb4 MEDIUMTEXT), as the server does.
 */
function convertSlot(column: Column, charset: string | null, convertTo: string): Slot {
  if (charset === null || charset === 'binary') return { column, charset };
  const dataType = dataTypeOf(column);
  if (TEXT_TYPES.has(dataType)) {
    const chars = Math.floor(textTypeBytes(dataType) / charsetMaxBytes(charset));
    const sourceType = textTypeFor(chars * charsetMaxBytes(convertTo), false);
    const grown = textTypeBytes(sourceType) > textTypeBytes(dataType) ? sourceType : dataType;
    return { column: { ...column, sourceType: grown }, charset: convertTo };
  }
  if (
    dataType === 'varchar' &&
    column.type.kind === 'varchar' &&
    column.type.length * charsetMaxBytes(convertTo) > 65535
  ) {
    throw new DdlApplyError(`varchar column ${column.name} would not fit in ${convertTo}`);
  }
  return { column, charset: convertTo };
}
