import { normalizeCharset } from '../protocol/charsets.js';

/**
 * The default character sets that a column takes when its definition names none: per database (for CREATE
 * TABLE without DEFAULT CHARSET) and per table (for ADD/MODIFY/CHANGE COLUMN). Names are lower case, `utf8`
 * as `utf8mb3`, as information_schema spells them. `applyDdl` returns the defaults after the statement.
 */
export interface DdlCharsetDefaults {
  /** The server's character_set_server, for CREATE DATABASE without a character set. */
  readonly server?: string;
  /** Database → its default character set. */
  readonly databases: ReadonlyMap<string, string>;
  /** `db.table` → the table's default character set. */
  readonly tables: ReadonlyMap<string, string>;
}

/** The character sets of MariaDB 10.11 and MySQL 8, for telling the character set of a collation name. */
const CHARSETS = [
  'armscii8',
  'ascii',
  'big5',
  'binary',
  'cp1250',
  'cp1251',
  'cp1256',
  'cp1257',
  'cp850',
  'cp852',
  'cp866',
  'cp932',
  'dec8',
  'eucjpms',
  'euckr',
  'gb18030',
  'gb2312',
  'gbk',
  'geostd8',
  'greek',
  'hebrew',
  'hp8',
  'keybcs2',
  'koi8r',
  'koi8u',
  'latin1',
  'latin2',
  'latin5',
  'latin7',
  'macce',
  'macroman',
  'sjis',
  'swe7',
  'tis620',
  'ucs2',
  'ujis',
  'utf16',
  'utf16le',
  'utf32',
  'utf8',
  'utf8mb3',
  'utf8mb4',
];

/**
 * The character set a collation belongs to (`latin1_swedish_ci` → latin1, `utf8_bin` → utf8mb3), or undefined
 * for a collation that works with several (MariaDB's `uca1400_ai_ci`): then the context decides.
 */
export function charsetOfCollationName(collation: string): string | undefined {
  const name = collation.toLowerCase();
  let best: string | undefined;
  for (const charset of CHARSETS) {
    if ((name === charset || name.startsWith(`${charset}_`)) && charset.length > (best?.length ?? 0)) best = charset;
  }
  return best === undefined ? undefined : normalizeCharset(best);
}

/** The TEXT (or BLOB) type that holds `bytes` bytes: the tiny, plain, medium or long one. */
export function textTypeFor(bytes: number, blob: boolean): string {
  const size = bytes <= 255 ? 'tiny' : bytes <= 65535 ? '' : bytes <= 16777215 ? 'medium' : 'long';
  return `${size}${blob ? 'blob' : 'text'}`;
}

/** Bytes a TEXT or BLOB type holds. */
export function textTypeBytes(type: string): number {
  if (type.startsWith('tiny')) return 255;
  if (type.startsWith('medium')) return 16777215;
  if (type.startsWith('long')) return 4294967295;
  return 65535;
}

export const TEXT_TYPES = new Set(['tinytext', 'text', 'mediumtext', 'longtext']);
/** Types whose columns have a character set. */
export const CHARACTER_TYPES = new Set(['char', 'varchar', 'enum', 'set', ...TEXT_TYPES]);
