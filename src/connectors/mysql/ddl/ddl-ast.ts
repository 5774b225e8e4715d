/**
 * The typed AST of the MySQL/MariaDB DDL that Tributary follows (see `parseDdl`). Names are unquoted and
 * unescaped; a table name without a database is resolved against the statement's default database by the
 * code that applies it. Only what can change the columns, their types or the primary key is kept in detail;
 * indexes, foreign keys, checks and table options are summarized.
 */

/** `db.t` or `t` as written. */
export interface DdlTableName {
  readonly database?: string;
  readonly name: string;
}

/**
 * A column type as written, aliases resolved to the type MySQL stores: `INTEGER` → `int`, `BOOL` →
 * `tinyint(1)`, `REAL` → `double`, `NUMERIC`/`DEC`/`FIXED` → `decimal`, `LONG VARCHAR` → `mediumtext`,
 * `CHAR … BYTE` → `binary`, `SERIAL` → `bigint unsigned`. `FLOAT(p)`, `TEXT(n)`/`BLOB(n)` and `CHARACTER SET
 * binary` are resolved later, with the column's character set (`ddl-column-info.ts`).
 */
export interface DdlDataType {
  /** Lower case: `int`, `varchar`, `decimal`, `enum`, `json`, `geometry`, `uuid`, … */
  readonly name: string;
  /** The numbers in parentheses: `(10)` → [10], `(7,2)` → [7, 2]; empty when none were written. */
  readonly args: readonly number[];
  /** ENUM and SET labels, unescaped. */
  readonly values?: readonly string[];
  readonly unsigned: boolean;
  readonly zerofill: boolean;
  /** CHARACTER SET / CHARSET / ASCII / UNICODE / NATIONAL, lower case, `utf8` as written. */
  readonly charset?: string;
  readonly collation?: string;
  /** The BINARY attribute of a text type: the binary collation of the column's character set. */
  readonly binaryCollation: boolean;
}

export interface DdlColumnDefinition {
  readonly name: string;
  readonly type: DdlDataType;
  /** NULL (true), NOT NULL (false), or neither written (undefined). */
  readonly nullable?: boolean;
  readonly primaryKey: boolean;
  readonly unique: boolean;
  readonly autoIncrement: boolean;
  /** The DEFAULT expression's SQL text, as written. */
  readonly defaultSql?: string;
  readonly onUpdateSql?: string;
  readonly comment?: string;
  readonly generated?: { readonly expressionSql: string; readonly stored: boolean };
  readonly invisible: boolean;
  /** An inline `CHECK (json_valid(col))`: MariaDB's JSON, spelled out. */
  readonly jsonCheck: boolean;
}

/** FIRST, or AFTER a column. */
export type DdlColumnPosition = { readonly kind: 'first' } | { readonly kind: 'after'; readonly column: string };

/** One part of an index: a column (with an optional prefix length) or an expression (`column` unset). */
export interface DdlKeyPart {
  readonly column?: string;
  readonly length?: number;
}

/** The table elements that are not columns. Only primary keys and `json_valid` checks affect the schema. */
export type DdlTableConstraint =
  | { readonly kind: 'primaryKey'; readonly parts: readonly DdlKeyPart[] }
  | { readonly kind: 'index'; readonly name?: string; readonly unique: boolean; readonly parts: readonly DdlKeyPart[] }
  | { readonly kind: 'foreignKey'; readonly name?: string }
  /** `jsonValidColumn`: the check is exactly `json_valid(col)`. */
  | { readonly kind: 'check'; readonly name?: string; readonly jsonValidColumn?: string };

/** Table options that matter here; every other option is listed by name in `other`. */
export interface DdlTableOptions {
  /** DEFAULT CHARSET / CHARACTER SET, lower case; `default` for `CHARACTER SET DEFAULT`. */
  readonly charset?: string;
  readonly collation?: string;
  /** Upper-case names of the other options (`ENGINE`, `AUTO_INCREMENT`, `COMMENT`, …). */
  readonly other: readonly string[];
  /** MariaDB `WITH SYSTEM VERSIONING`: adds hidden row_start/row_end columns. */
  readonly systemVersioning: boolean;
}

export type DdlAlterSpec =
  | {
      readonly kind: 'addColumn';
      readonly column: DdlColumnDefinition;
      readonly position?: DdlColumnPosition;
      readonly ifNotExists: boolean;
    }
  | { readonly kind: 'dropColumn'; readonly name: string; readonly ifExists: boolean }
  | {
      readonly kind: 'modifyColumn';
      readonly column: DdlColumnDefinition;
      readonly position?: DdlColumnPosition;
      readonly ifExists: boolean;
    }
  | {
      readonly kind: 'changeColumn';
      readonly oldName: string;
      readonly column: DdlColumnDefinition;
      readonly position?: DdlColumnPosition;
      readonly ifExists: boolean;
    }
  | { readonly kind: 'renameColumn'; readonly from: string; readonly to: string; readonly ifExists: boolean }
  /**
   * ALTER [COLUMN] c SET DEFAULT … / DROP DEFAULT / SET [IN]VISIBLE: no effect on types. `defaultSql` is the new
   * DEFAULT as written, `null` for DROP DEFAULT, absent for SET [IN]VISIBLE.
   */
  | {
      readonly kind: 'alterColumn';
      readonly name: string;
      readonly ifExists: boolean;
      readonly defaultSql?: string | null;
    }
  | { readonly kind: 'renameTable'; readonly to: DdlTableName }
  | { readonly kind: 'addConstraint'; readonly constraint: DdlTableConstraint; readonly ifNotExists: boolean }
  | { readonly kind: 'dropPrimaryKey' }
  | {
      readonly kind: 'dropConstraint';
      readonly what: 'index' | 'foreignKey' | 'constraint' | 'check';
      readonly name: string;
      readonly ifExists: boolean;
    }
  /** CONVERT TO CHARACTER SET cs [COLLATE c]: every text column gets the character set; `default`: the database's. */
  | { readonly kind: 'convertCharset'; readonly charset: string; readonly collation?: string }
  /** Table options such as `ENGINE=InnoDB` or `DEFAULT CHARSET=latin1` (the default for columns added later). */
  | { readonly kind: 'tableOptions'; readonly options: DdlTableOptions }
  /** Recognized and without effect on columns: ALGORITHM=, LOCK=, FORCE, ORDER BY, indexes, partitions, … */
  | { readonly kind: 'noEffect'; readonly what: string }
  /** Recognized but not followed (ADD SYSTEM VERSIONING, ADD PERIOD …): the table must be read again. */
  | { readonly kind: 'unsupported'; readonly what: string };

export type DdlStatement =
  | {
      readonly kind: 'createTable';
      readonly table: DdlTableName;
      readonly temporary: boolean;
      readonly ifNotExists: boolean;
      readonly orReplace: boolean;
      readonly columns: readonly DdlColumnDefinition[];
      readonly constraints: readonly DdlTableConstraint[];
      readonly options: DdlTableOptions;
      /** CREATE TABLE … [AS] SELECT: the columns are not all written here, so the table must be read again. */
      readonly asSelect: boolean;
    }
  | {
      readonly kind: 'createTableLike';
      readonly table: DdlTableName;
      readonly like: DdlTableName;
      readonly temporary: boolean;
      readonly ifNotExists: boolean;
      readonly orReplace: boolean;
    }
  | {
      readonly kind: 'alterTable';
      readonly table: DdlTableName;
      readonly ifExists: boolean;
      readonly specs: readonly DdlAlterSpec[];
    }
  | {
      readonly kind: 'renameTable';
      readonly renames: readonly { readonly from: DdlTableName; readonly to: DdlTableName }[];
      readonly ifExists: boolean;
    }
  | {
      readonly kind: 'dropTable';
      readonly tables: readonly DdlTableName[];
      readonly temporary: boolean;
      readonly ifExists: boolean;
    }
  | { readonly kind: 'truncateTable'; readonly table: DdlTableName }
  | {
      readonly kind: 'createDatabase';
      readonly name: string;
      readonly ifNotExists: boolean;
      readonly orReplace: boolean;
      readonly charset?: string;
      readonly collation?: string;
    }
  /** ALTER DATABASE/SCHEMA [name] …: `name` unset means the default database. */
  | { readonly kind: 'alterDatabase'; readonly name?: string; readonly charset?: string; readonly collation?: string }
  | { readonly kind: 'dropDatabase'; readonly name: string; readonly ifExists: boolean }
  | { readonly kind: 'createIndex'; readonly table: DdlTableName; readonly name: string; readonly unique: boolean }
  | { readonly kind: 'dropIndex'; readonly table: DdlTableName; readonly name: string }
  /** A statement recognized as never changing a table's columns (GRANT, CREATE VIEW, ANALYZE TABLE, …). */
  | { readonly kind: 'ignored'; readonly statement: string }
  /**
   * A statement this parser does not follow, or cannot parse. It may have changed tables: read the schemas of
   * the captured tables it might touch again, at this position.
   */
  | { readonly kind: 'unknown'; readonly reason: string };
