/** A MySQL text-protocol row payload: a length-encoded string per field, 0xFB for NULL (as mysql2 hands it over). */
export function rowPayload(fields: readonly (string | Buffer | null)[]): Buffer {
  const parts: Buffer[] = [];
  for (const field of fields) {
    if (field === null) {
      parts.push(Buffer.from([0xfb]));
      continue;
    }
    const bytes = typeof field === 'string' ? Buffer.from(field, 'utf8') : field;
    const n = bytes.length;
    if (n < 0xfb) parts.push(Buffer.from([n]));
    else if (n < 0x10000) parts.push(Buffer.from([0xfc, n & 0xff, n >> 8]));
    else parts.push(Buffer.from([0xfd, n & 0xff, (n >> 8) & 0xff, n >> 16]));
    parts.push(bytes);
  }
  return Buffer.concat(parts);
}
