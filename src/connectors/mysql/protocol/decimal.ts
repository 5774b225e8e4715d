/**
 * The binary DECIMAL (NEWDECIMAL) format of MySQL/MariaDB rows: digits in groups of nine per 4-byte
 * big-endian word, a shorter leading integer group and trailing fraction group, the sign in the top bit of the
 * first byte (set for non-negative numbers) and negative numbers stored with every byte inverted.
 */

/** Bytes used by a group of 0..9 decimal digits. */
const DIGIT_BYTES = [0, 1, 1, 2, 2, 3, 3, 4, 4, 4] as const;
const ZEROS = '000000000';

/** Decodes one DECIMAL(p,s) value at a position into its exact text. */
export interface DecimalLayout {
  readonly precision: number;
  readonly scale: number;
  /** Bytes of one value on the wire. */
  readonly size: number;
  /** Decimal text: '-1234.50', '0.00', '7' — leading zeros trimmed, exactly `scale` fraction digits. */
  readonly decode: (buf: Uint8Array, pos: number) => string;
}

export function decimalBinarySize(precision: number, scale: number): number {
  const intg = precision - scale;
  return Math.floor(intg / 9) * 4 + DIGIT_BYTES[intg % 9]! + Math.floor(scale / 9) * 4 + DIGIT_BYTES[scale % 9]!;
}

export function decimalLayout(precision: number, scale: number): DecimalLayout {
  if (!(precision >= 1 && precision <= 65 && scale >= 0 && scale <= 30 && scale <= precision)) {
    throw new RangeError(`invalid DECIMAL(${precision},${scale})`);
  }
  const intg = precision - scale;
  const intFull = Math.floor(intg / 9);
  const intLead = intg % 9;
  const intLeadBytes = DIGIT_BYTES[intLead]!;
  const fracFull = Math.floor(scale / 9);
  const fracTail = scale % 9;
  const fracTailBytes = DIGIT_BYTES[fracTail]!;
  const size = intFull * 4 + intLeadBytes + fracFull * 4 + fracTailBytes;

  const decode = (buf: Uint8Array, pos: number): string => {
    const negative = (buf[pos]! & 0x80) === 0;
    const mask = negative ? 0xff : 0;
    let p = pos;
    // The first byte carries the sign bit, which after un-inverting is always set: take it off once.
    let signBit = true;
    let intText = '';
    if (intLeadBytes > 0) {
      let v = readBigEndian(buf, p, intLeadBytes, mask);
      v -= 128 * 256 ** (intLeadBytes - 1);
      signBit = false;
      p += intLeadBytes;
      if (v !== 0) intText = String(v);
    }
    for (let i = 0; i < intFull; i++) {
      let v = readBigEndian(buf, p, 4, mask);
      if (signBit) {
        v -= 0x80000000;
        signBit = false;
      }
      p += 4;
      if (intText === '') {
        if (v !== 0) intText = String(v);
      } else {
        const s = String(v);
        intText += ZEROS.slice(s.length) + s;
      }
    }
    if (intText === '') intText = '0';
    if (scale === 0) return negative && intText !== '0' ? `-${intText}` : intText;

    let fracText = '';
    let fracZero = true;
    for (let i = 0; i < fracFull; i++) {
      let v = readBigEndian(buf, p, 4, mask);
      if (signBit) {
        v -= 0x80000000;
        signBit = false;
      }
      p += 4;
      if (v !== 0) fracZero = false;
      const s = String(v);
      fracText += ZEROS.slice(s.length) + s;
    }
    if (fracTailBytes > 0) {
      let v = readBigEndian(buf, p, fracTailBytes, mask);
      if (signBit) v -= 128 * 256 ** (fracTailBytes - 1);
      if (v !== 0) fracZero = false;
      const s = String(v);
      fracText += ZEROS.slice(9 - fracTail + s.length) + s;
    }
    const sign = negative && !(fracZero && intText === '0') ? '-' : '';
    return `${sign}${intText}.${fracText}`;
  };

  return { precision, scale, size, decode };
}

function readBigEndian(buf: Uint8Array, pos: number, n: number, mask: number): number {
  let v = 0;
  for (let i = 0; i < n; i++) v = v * 256 + (buf[pos + i]! ^ mask);
  return v;
}

/** One-off decode (JSON opaque decimals); row decoding prepares a {@link decimalLayout} per column. */
export function decodeDecimal(buf: Uint8Array, pos: number, precision: number, scale: number): string {
  return decimalLayout(precision, scale).decode(buf, pos);
}
