import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** In-memory bytes of all streamed transactions together, beyond which their further messages go to disk. */
export const DEFAULT_STREAM_MEMORY_BYTES = 64 * 1024 * 1024;

/** One streamed transaction's messages: in memory first, then — once the budget is spent — in a file of its own. */
interface Buffered {
  readonly memory: { readonly subxid: number; readonly data: Buffer }[];
  /** The spill file (records: subxid uint32, length uint32, message), once the transaction spills. */
  file?: { readonly path: string; readonly fd: number };
  memoryBytes: number;
  /** Subtransactions rolled back: their messages are skipped on replay. */
  readonly aborted: Set<number>;
}

/**
 * The messages of large transactions that the server streams while they are in progress (pgoutput protocol 2),
 * kept per top-level transaction id until the transaction commits (then replayed in order, as one transaction at
 * its commit LSN) or rolls back (then dropped). Memory is bounded by `memoryBytes` over all transactions; beyond
 * it a transaction's further messages are appended to a file in a private temporary directory, removed when
 * the transaction ends or the buffer is closed.
 */
export class StreamedTransactions {
  private readonly transactions = new Map<number, Buffered>();
  private memoryBytes = 0;
  private dir: string | undefined;

  constructor(private readonly memoryLimit: number = DEFAULT_STREAM_MEMORY_BYTES) {}

  /** How many transactions are open, and how many of them spilled to disk (for logs and tests). */
  get stats(): { open: number; spilled: number } {
    let spilled = 0;
    for (const t of this.transactions.values()) if (t.file) spilled++;
    return { open: this.transactions.size, spilled };
  }

  /** Keeps a message (its bytes as received) of the streamed transaction `xid`, sent by (sub)transaction `subxid`. */
  add(xid: number, subxid: number, data: Buffer): void {
    let t = this.transactions.get(xid);
    if (!t) {
      t = { memory: [], memoryBytes: 0, aborted: new Set() };
      this.transactions.set(xid, t);
    }
    if (!t.file && this.memoryBytes + data.length <= this.memoryLimit) {
      // A copy: the frame may be a view into a larger socket chunk, which the reference would keep alive.
      t.memory.push({ subxid, data: Buffer.from(data) });
      t.memoryBytes += data.length;
      this.memoryBytes += data.length;
      return;
    }
    if (!t.file) {
      this.dir ??= mkdtempSync(join(tmpdir(), 'tributary-pg-stream-'));
      const path = join(this.dir, `${xid}.bin`);
      t.file = { path, fd: openSync(path, 'w') };
    }
    const header = Buffer.allocUnsafe(8);
    header.writeUInt32BE(subxid, 0);
    header.writeUInt32BE(data.length, 4);
    writeSync(t.file.fd, header);
    writeSync(t.file.fd, data);
  }

  /** A rollback: of the whole transaction when `subxid` = `xid`, else of that subtransaction's messages. */
  abort(xid: number, subxid: number): void {
    const t = this.transactions.get(xid);
    if (!t) return;
    if (subxid === xid) this.drop(xid, t);
    else t.aborted.add(subxid);
  }

  /**
   * The messages of the committed transaction `xid` in the order received, without those of rolled-back
   * subtransactions; the transaction is forgotten (and its file removed) once they are read.
   */
  async *commit(xid: number): AsyncGenerator<Buffer> {
    const t = this.transactions.get(xid);
    if (!t) return;
    try {
      for (const m of t.memory) if (!t.aborted.has(m.subxid)) yield m.data;
      if (t.file) {
        closeSync(t.file.fd);
        const handle = await open(t.file.path, 'r');
        try {
          for await (const record of readRecords(handle)) {
            if (!t.aborted.has(record.subxid)) yield record.data;
          }
        } finally {
          await handle.close();
        }
        t.file = { ...t.file, fd: -1 };
      }
    } finally {
      this.drop(xid, t);
    }
  }

  /** Forgets every transaction and removes the spill directory. */
  close(): void {
    for (const [xid, t] of this.transactions) this.drop(xid, t);
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    this.dir = undefined;
  }

  private drop(xid: number, t: Buffered): void {
    this.memoryBytes -= t.memoryBytes;
    t.memoryBytes = 0;
    t.memory.length = 0;
    if (t.file) {
      if (t.file.fd >= 0) closeSync(t.file.fd);
      rmSync(t.file.path, { force: true });
      t.file = undefined;
    }
    this.transactions.delete(xid);
  }
}

/** The records of a spill file, read in blocks of 1 MiB. */
async function* readRecords(handle: FileHandle): AsyncGenerator<{ subxid: number; data: Buffer }> {
  let pending = Buffer.alloc(0);
  const block = Buffer.allocUnsafe(1 << 20);
  for (;;) {
    const { bytesRead } = await handle.read(block, 0, block.length, null);
    if (bytesRead === 0) break;
    pending = Buffer.concat([pending, block.subarray(0, bytesRead)]);
    let offset = 0;
    while (pending.length - offset >= 8) {
      const length = pending.readUInt32BE(offset + 4);
      if (pending.length - offset - 8 < length) break;
      yield {
        subxid: pending.readUInt32BE(offset),
        data: Buffer.from(pending.subarray(offset + 8, offset + 8 + length)),
      };
      offset += 8 + length;
    }
    pending = pending.subarray(offset);
  }
}
