/**
 * Character sets of MySQL/MariaDB columns: the collation ids of table-map metadata → character set names, and
 * character set names → functions that turn a byte range of the row buffer into a JavaScript string.
 */

/** Decodes bytes [start, end) of `buf` as text. */
export type TextDecodeFn = (buf: Buffer, start: number, end: number) => string;

/**
 * Collation id → character set, as `id name` or `from-to name` entries: MariaDB 10.11's full list (its
 * UCA-14.0.0 collations take 256 ids per character set from 2048) plus MySQL 8's ids (76, 248-250, 255-323).
 */
const COLLATION_TABLE =
  '1 big5 2 latin2 3 dec8 4 cp850 5 latin1 6 hp8 7 koi8r 8 latin1 9 latin2 10 swe7 11 ascii 12 ujis ' +
  '13 sjis 14 cp1251 15 latin1 16 hebrew 18 tis620 19 euckr 20 latin7 21 latin2 22 koi8u 23 cp1251 ' +
  '24 gb2312 25 greek 26 cp1250 27 latin2 28 gbk 29 cp1257 30 latin5 31 latin1 32 armscii8 33 utf8mb3 ' +
  '34 cp1250 35 ucs2 36 cp866 37 keybcs2 38 macce 39 macroman 40 cp852 41-42 latin7 43 macce 44 cp1250 ' +
  '45-46 utf8mb4 47-49 latin1 50-52 cp1251 53 macroman 54-55 utf16 56 utf16le 57 cp1256 58-59 cp1257 ' +
  '60-61 utf32 62 utf16le 63 binary 64 armscii8 65 ascii 66 cp1250 67 cp1256 68 cp866 69 dec8 70 greek ' +
  '71 hebrew 72 hp8 73 keybcs2 74 koi8r 75 koi8u 76 utf8mb3 77 latin2 78 latin5 79 latin7 80 cp850 ' +
  '81 cp852 82 swe7 83 utf8mb3 84 big5 85 euckr 86 gb2312 87 gbk 88 sjis 89 tis620 90 ucs2 91 ujis ' +
  '92-93 geostd8 94 latin1 95-96 cp932 97-98 eucjpms 99 cp1250 101-124 utf16 128-151 ucs2 159 ucs2 ' +
  '160-183 utf32 192-215 utf8mb3 223 utf8mb3 224-247 utf8mb4 248-250 gb18030 255-323 utf8mb4 ' +
  '576-578 utf8mb3 608-610 utf8mb4 640-642 ucs2 672-674 utf16 736-738 utf32 1025 big5 1027 dec8 ' +
  '1028 cp850 1030 hp8 1031 koi8r 1032 latin1 1033 latin2 1034 swe7 1035 ascii 1036 ujis 1037 sjis ' +
  '1040 hebrew 1042 tis620 1043 euckr 1046 koi8u 1048 gb2312 1049 greek 1050 cp1250 1052 gbk ' +
  '1054 latin5 1056 armscii8 1057 utf8mb3 1059 ucs2 1060 cp866 1061 keybcs2 1062 macce 1063 macroman ' +
  '1064 cp852 1065 latin7 1067 macce 1069-1070 utf8mb4 1071 latin1 1074-1075 cp1251 1077 macroman ' +
  '1078-1079 utf16 1080 utf16le 1081 cp1256 1082-1083 cp1257 1084-1085 utf32 1086 utf16le ' +
  '1088 armscii8 1089 ascii 1090 cp1250 1091 cp1256 1092 cp866 1093 dec8 1094 greek 1095 hebrew ' +
  '1096 hp8 1097 keybcs2 1098 koi8r 1099 koi8u 1101 latin2 1102 latin5 1103 latin7 1104 cp850 ' +
  '1105 cp852 1106 swe7 1107 utf8mb3 1108 big5 1109 euckr 1110 gb2312 1111 gbk 1112 sjis 1113 tis620 ' +
  '1114 ucs2 1115 ujis 1116-1117 geostd8 1119-1120 cp932 1121-1122 eucjpms 1125 utf16 1147 utf16 ' +
  '1152 ucs2 1174 ucs2 1184 utf32 1206 utf32 1216 utf8mb3 1238 utf8mb3 1248 utf8mb4 1270 utf8mb4 ' +
  '2048-2303 utf8mb3 2304-2559 utf8mb4 2560-2815 ucs2 2816-3071 utf16 3072-3327 utf32';

const COLLATIONS: ReadonlyMap<number, string> = (() => {
  const map = new Map<number, string>();
  const parts = COLLATION_TABLE.split(' ');
  for (let i = 0; i + 1 < parts.length; i += 2) {
    const [from, to = from] = parts[i]!.split('-').map(Number) as [number, number?];
    for (let id = from; id <= to; id++) map.set(id, parts[i + 1]!);
  }
  return map;
})();

/** The character set of a collation id, or undefined for ids this table does not know. */
export function charsetOfCollation(collationId: number): string | undefined {
  return COLLATIONS.get(collationId);
}

/** Longest character of a character set, in bytes (for converting byte lengths to character lengths). */
export function charsetMaxBytes(charset: string): number {
  switch (normalizeCharset(charset)) {
    case 'utf8mb4':
    case 'utf16':
    case 'utf16le':
    case 'utf32':
    case 'gb18030':
      return 4;
    case 'utf8mb3':
    case 'ujis':
    case 'eucjpms':
      return 3;
    case 'ucs2':
    case 'big5':
    case 'gbk':
    case 'gb2312':
    case 'sjis':
    case 'cp932':
    case 'euckr':
      return 2;
    default:
      return 1;
  }
}

/** Lower case, `utf8` → `utf8mb3` (MySQL's alias), without a collation suffix. */
export function normalizeCharset(charset: string): string {
  const name = charset.toLowerCase();
  return name === 'utf8' ? 'utf8mb3' : name;
}

export function isBinaryCharset(charset: string | undefined): boolean {
  return charset !== undefined && charset.toLowerCase() === 'binary';
}

/** WHATWG encoding labels of the character sets that are neither UTF nor latin1/ascii. */
const WHATWG_LABELS: Readonly<Record<string, string>> = {
  cp1250: 'windows-1250',
  cp1251: 'windows-1251',
  cp1256: 'windows-1256',
  cp1257: 'windows-1257',
  latin2: 'iso-8859-2',
  greek: 'iso-8859-7',
  hebrew: 'iso-8859-8',
  latin5: 'windows-1254',
  latin7: 'iso-8859-13',
  koi8r: 'koi8-r',
  koi8u: 'koi8-u',
  gbk: 'gbk',
  gb2312: 'gbk',
  gb18030: 'gb18030',
  big5: 'big5',
  sjis: 'shift_jis',
  cp932: 'shift_jis',
  ujis: 'euc-jp',
  eucjpms: 'euc-jp',
  euckr: 'euc-kr',
  tis620: 'windows-874',
  cp866: 'ibm866',
  macroman: 'macintosh',
};

/**
 * Buffer's own `utf8Slice` / `latin1Slice` (what `toString` calls after checking its arguments): a measurable
 * share of row decoding for short strings. Present on every Node Buffer since v0.x; fall back if ever gone.
 */
interface BufferSlices {
  utf8Slice?(start: number, end: number): string;
  latin1Slice?(start: number, end: number): string;
}
const hasSlices =
  typeof (Buffer.prototype as BufferSlices).utf8Slice === 'function' &&
  typeof (Buffer.prototype as BufferSlices).latin1Slice === 'function';

const decodeUtf8: TextDecodeFn = hasSlices
  ? (buf, start, end) => (buf as BufferSlices).utf8Slice!(start, end)
  : (buf, start, end) => buf.toString('utf8', start, end);

/** Windows-1252 at 0x80–0x9F (MySQL keeps the five unassigned bytes as the C1 controls). */
const CP1252_HIGH =
  '\u20ac\u0081\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152\u008d\u017d\u008f' +
  '\u0090\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\u009d\u017e\u0178';

/**
 * MySQL's latin1 is Windows-1252 (0x80 is '€'), not ISO-8859-1: bytes 0x80–0x9F need the real table (Node's
 * TextDecoder drops them); the rest decode as Buffer's latin1.
 */
const decodeLatin1: TextDecodeFn = (buf, start, end) => {
  let i = start;
  while (i < end && (buf[i]! < 0x80 || buf[i]! > 0x9f)) i++;
  if (i === end) return buf.toString('latin1', start, end);
  let out = buf.toString('latin1', start, i);
  for (; i < end; i++) {
    const b = buf[i]!;
    out += b >= 0x80 && b <= 0x9f ? CP1252_HIGH[b - 0x80]! : String.fromCharCode(b);
  }
  return out;
};

/** UCS-2 / UTF-16 are stored big-endian. */
const decodeUtf16be: TextDecodeFn = (buf, start, end) => {
  const copy = Buffer.from(buf.subarray(start, end));
  copy.swap16();
  return copy.toString('utf16le');
};

const decodeUtf16le: TextDecodeFn = (buf, start, end) => buf.toString('utf16le', start, end);

const decodeUtf32: TextDecodeFn = (buf, start, end) => {
  let out = '';
  for (let i = start; i + 3 < end; i += 4) {
    out += String.fromCodePoint(((buf[i]! << 24) | (buf[i + 1]! << 16) | (buf[i + 2]! << 8) | buf[i + 3]!) >>> 0);
  }
  return out;
};

/**
 * The text decoder of a character set name ('utf8mb4', 'latin1' …); throws for a character set without one
 * (and for 'binary', whose values are bytes, not text).
 */
export function textDecoderFor(charset: string): TextDecodeFn {
  const name = normalizeCharset(charset);
  switch (name) {
    case 'utf8mb3':
    case 'utf8mb4':
      return decodeUtf8;
    case 'latin1':
      return decodeLatin1;
    case 'ascii':
      return (buf, start, end) => buf.toString('latin1', start, end);
    case 'ucs2':
    case 'utf16':
      return decodeUtf16be;
    case 'utf16le':
      return decodeUtf16le;
    case 'utf32':
      return decodeUtf32;
    default: {
      const label = WHATWG_LABELS[name];
      if (label === undefined) throw new RangeError(`no text decoder for character set '${charset}'`);
      const decoder = new TextDecoder(label);
      return (buf, start, end) => decoder.decode(buf.subarray(start, end));
    }
  }
}
