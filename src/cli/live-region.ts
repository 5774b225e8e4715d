/** The part of a terminal stream the region needs: `isTTY` streams such as `process.stderr`. */
export interface TerminalStream {
  write(text: string): unknown;
  readonly columns?: number;
}

/**
 * A block of lines at the bottom of a terminal, redrawn in place ({@link draw}), with log lines written above
 * it ({@link log}): the region is erased (cursor up over its lines, clear to the end of the screen), the log
 * line written, and the region drawn again below it. Lines must not be wider than the terminal
 * ({@link columns}); a wrapped line would take two rows and the next redraw would erase one too few.
 */
export class LiveRegion {
  private lines: readonly string[] = [];
  private drawn = 0;
  private stopped = false;

  constructor(private readonly stream: TerminalStream) {}

  /** The terminal's width (80 when the stream does not say). */
  get columns(): number {
    return this.stream.columns ?? 80;
  }

  draw(lines: readonly string[]): void {
    if (this.stopped) return;
    this.lines = lines;
    this.stream.write(this.erase() + this.render());
  }

  /** Writes `line` (which may hold several lines) above the region. */
  log(line: string): void {
    if (this.stopped) {
      this.stream.write(line + '\n');
      return;
    }
    this.stream.write(this.erase() + line + '\n' + this.render());
  }

  /** Erases the region; later log lines are written as they come. */
  stop(): void {
    if (this.stopped) return;
    this.stream.write(this.erase());
    this.lines = [];
    this.stopped = true;
  }

  private erase(): string {
    const up = this.drawn > 0 ? `\x1b[${this.drawn}A` : '';
    this.drawn = 0;
    return `\r${up}\x1b[0J`;
  }

  private render(): string {
    this.drawn = this.lines.length;
    return this.lines.map((line) => line + '\n').join('');
  }
}
