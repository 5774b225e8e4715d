import type { Connection } from 'mysql2';

/**
 * A query whose rows are decoded straight from the packets, without mysql2's row parser (a Buffer view or a
 * string per value, then an array per row). One more use of mysql2 internals (see mysql2-binlog-command.ts for
 * the others; checked against mysql2 3.24, lib/commands/query.js): `connection.query(options, callback)` returns
 * its Query command; once the column definitions are in, the command handles each row packet with its `row`
 * state method (`fieldsEOF` returns `this.row`, and `row` returns the next state), and the terminating EOF packet
 * with the same method (`packet.isEOF()`, then `done()`). This file puts its own `row` on the one command:
 * rows go to `decode` with the payload `packet.buffer[packet.offset, packet.end)`, EOF to mysql2's own `row`.
 * Errors, timeouts, the statement text with its `?` values, and the connection guard stay mysql2's and ours.
 */

interface RowPacket {
  readonly buffer: Buffer;
  readonly offset: number;
  readonly end: number;
  isEOF(): boolean;
}

type RowState = (this: unknown, packet: RowPacket, connection: unknown) => unknown;

interface QueryCommand {
  row: RowState;
}

/**
 * Runs `sql` (with `?` placeholders filled from `values` as mysql2 fills them) and returns `decode` of each row
 * payload. `decode` must not keep `buf`: the packet's buffer may be reused. An error `decode` throws fails the
 * query after the remaining rows are read (the connection stays usable).
 */
export async function queryDecodedRows<T>(
  connection: Connection,
  sql: string,
  values: unknown[],
  decode: (buf: Buffer, start: number, end: number) => T,
): Promise<T[]> {
  const rows: T[] = [];
  await queryRowPackets(connection, sql, values, (buf, start, end) => {
    rows.push(decode(buf, start, end));
  });
  return rows;
}

/**
 * Runs `sql` as {@link queryDecodedRows} does and hands each row payload to `onRow` (which must not keep `buf`);
 * resolves with the number of rows. An error `onRow` throws fails the query after the remaining rows are read.
 */
export function queryRowPackets(
  connection: Connection,
  sql: string,
  values: unknown[],
  onRow: (buf: Buffer, start: number, end: number) => void,
): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    let count = 0;
    let failure: Error | undefined;
    const command = connection.query({ sql, values, rowsAsArray: true, typeCast: false }, (error, parsed) => {
      if (error) reject(error);
      else if (failure !== undefined) reject(failure);
      else if (Array.isArray(parsed) && parsed.length > 0) {
        // mysql2 parsed the rows itself: its internals changed and the hook below never ran.
        reject(new Error('this mysql2 version does not expose the row state the snapshot reader hooks'));
      } else resolve(count);
    }) as unknown as QueryCommand;
    const general = command.row;
    if (typeof general !== 'function') {
      throw new Error('this mysql2 version does not expose the row state the snapshot reader hooks');
    }
    command.row = function decodedRow(this: unknown, packet: RowPacket, conn: unknown): unknown {
      if (packet.isEOF()) return general.call(this, packet, conn);
      if (failure === undefined) {
        try {
          onRow(packet.buffer, packet.offset, packet.end);
          count++;
        } catch (error) {
          failure = error instanceof Error ? error : new Error(`row decoding failed: ${JSON.stringify(error)}`);
        }
      }
      return decodedRow;
    };
  });
}
