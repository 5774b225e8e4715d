import type { Row, Value } from '../core/data-type.js';
import { encodeValues, type Delta } from '../sql/exec/changelog.js';

/** Flink's `sql-client.execution.result-mode`: rows changing in place, the changelog, or plain lines for pipes. */
export type ResultMode = 'table' | 'changelog' | 'tableau';
export const RESULT_MODES: readonly ResultMode[] = ['table', 'changelog', 'tableau'];

/** Where a view draws: a terminal (alternate screen, redrawn) or a stream of lines. */
export interface ResultScreen {
  write(text: string): void;
  readonly rows: number;
  readonly columns: number;
}

/** One change as Flink's client names it: +I, -U, +U, -D. */
type RowKind = '+I' | '-U' | '+U' | '-D';

/**
 * The live result of a SELECT. `apply` takes each batch of changes; `table` mode keeps the rows (an update
 * replaces its row where it stands, when the result has a unique key) and redraws them on the alternate screen;
 * `changelog` shows the latest changes with their kind; `tableau` prints each change as a line, for pipes and logs.
 */
export class ResultView {
  /** table mode: the rows by unique key (or by whole row, with copies counted); null while retracted in a batch. */
  private readonly rows = new Map<string, { row: Row; count: number } | null>();
  private readonly changes: { kind: RowKind; row: Row }[] = [];
  private total = 0;

  constructor(
    private readonly mode: ResultMode,
    private readonly names: readonly string[],
    /** Field positions the result's rows are unique on, if any (pairs a retraction with its update). */
    private readonly key: readonly number[] | undefined,
    private readonly screen: ResultScreen,
  ) {}

  /** Begins the view: the alternate screen, or the tableau's header. */
  open(): void {
    if (this.mode === 'tableau') {
      this.screen.write(`${this.rule()}\n${this.line(['op', ...this.names])}\n${this.rule()}\n`);
    } else {
      this.screen.write('\x1b[?1049h\x1b[?25l');
      this.draw();
    }
  }

  /** Ends the view: back to the main screen (the client's prompt), with a summary line. */
  close(): void {
    if (this.mode === 'tableau') {
      this.screen.write(`${this.rule()}\nReceived a total of ${this.total} change${this.total === 1 ? '' : 's'}\n`);
    } else {
      this.screen.write('\x1b[?25h\x1b[?1049l');
      this.screen.write(`Query stopped after ${this.total} change${this.total === 1 ? '' : 's'}.\n`);
    }
  }

  apply(deltas: readonly Delta[]): void {
    const kinds = this.kinds(deltas);
    this.total += deltas.length;
    deltas.forEach((delta, i) => {
      const kind = kinds[i]!;
      if (this.mode === 'tableau') this.screen.write(this.line([kind, ...delta.row.map(show)]) + '\n');
      else if (this.mode === 'changelog') this.changes.push({ kind, row: delta.row });
      else this.applyToTable(delta);
    });
    if (this.mode === 'table') {
      for (const [key, entry] of this.rows) if (entry === null) this.rows.delete(key);
    }
    if (this.mode === 'changelog' && this.changes.length > 10_000) this.changes.splice(0, this.changes.length - 10_000);
    if (this.mode !== 'tableau') this.draw();
  }

  /** +I / -D, or -U / +U for a retraction and an addition of one key in the same batch. */
  private kinds(deltas: readonly Delta[]): RowKind[] {
    const keyOf = (row: Row) => (this.key === undefined ? undefined : encodeValues(this.key.map((i) => row[i]!)));
    const added = new Set<string>();
    const retracted = new Set<string>();
    for (const d of deltas) {
      const k = keyOf(d.row);
      if (k !== undefined) (d.sign > 0 ? added : retracted).add(k);
    }
    return deltas.map((d) => {
      const k = keyOf(d.row);
      const update = k !== undefined && added.has(k) && retracted.has(k);
      if (d.sign > 0) return update ? '+U' : '+I';
      return update ? '-U' : '-D';
    });
  }

  private applyToTable({ sign, row }: Delta): void {
    const id = encodeValues(this.key === undefined ? row : this.key.map((i) => row[i]!));
    const entry = this.rows.get(id);
    if (sign > 0) {
      // Set on an existing key (a retracted slot) keeps its place: the row changes in place.
      if (entry === undefined || entry === null || this.key !== undefined) this.rows.set(id, { row, count: 1 });
      else entry.count++;
    } else if (entry !== undefined && entry !== null) {
      if (this.key !== undefined || --entry.count === 0) this.rows.set(id, null);
    }
  }

  private draw(): void {
    const height = Math.max(3, this.screen.rows - 5);
    const out: string[] = ['\x1b[H\x1b[2J'];
    out.push(`SQL Query Result (${this.mode === 'table' ? 'Table' : 'Changelog'})`);
    out.push(this.line(this.mode === 'table' ? this.names : ['op', ...this.names]));
    const lines: string[] = [];
    if (this.mode === 'table') {
      for (const entry of this.rows.values()) {
        if (entry === null) continue;
        for (let c = 0; c < entry.count; c++) lines.push(this.line(entry.row.map(show)));
      }
    } else {
      for (const { kind, row } of this.changes) lines.push(this.line([kind, ...row.map(show)]));
    }
    const shown = this.mode === 'table' ? lines.slice(0, height) : lines.slice(-height);
    out.push(...shown);
    const count = this.mode === 'table' ? `Rows: ${lines.length}` : `Changes: ${this.total}`;
    out.push('', `${count}   Updated: ${new Date().toISOString().slice(11, 19)}   Q: quit`);
    this.screen.write(out.map((l) => l.slice(0, this.screen.columns)).join('\n'));
  }

  private get width(): number {
    return Math.max(6, Math.min(24, Math.floor((this.screen.columns - 2) / Math.max(1, this.names.length + 1)) - 3));
  }

  private line(cells: readonly string[]): string {
    const w = this.width;
    return `| ${cells.map((c) => (c.length > w ? `${c.slice(0, w - 1)}…` : c.padStart(w))).join(' | ')} |`;
  }

  private rule(): string {
    return `+${Array.from({ length: this.names.length + 1 }, () => '-'.repeat(this.width + 2)).join('+')}+`;
  }
}

function show(value: Value): string {
  if (value === null) return '<NULL>';
  if (value instanceof Uint8Array) return `x'${Buffer.from(value).toString('hex')}'`;
  return String(value);
}
