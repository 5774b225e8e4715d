import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { complete, sqlClient } from '../../src/cli/sql-client.js';
import { ResultView } from '../../src/cli/sql-result-view.js';

describe('SQL client', () => {
  it('knows when the typed lines hold whole statements', () => {
    expect(complete('SELECT 1 FROM t')).toBe(false);
    expect(complete('SELECT 1 FROM t;')).toBe(true);
    expect(complete("SELECT ';' FROM t")).toBe(false);
    expect(complete("SELECT 'a;\nb' FROM t;")).toBe(true);
    expect(complete("SELECT 'open;")).toBe(false);
    expect(complete('-- a comment;')).toBe(false);
    expect(complete('BEGIN STATEMENT SET;')).toBe(false);
    expect(complete('BEGIN STATEMENT SET;\nINSERT INTO a SELECT CASE WHEN x THEN 1 END FROM t;')).toBe(false);
    expect(complete('BEGIN STATEMENT SET;\nINSERT INTO a SELECT x FROM t;\nEND;')).toBe(true);
    expect(complete('EXECUTE STATEMENT SET BEGIN INSERT INTO a SELECT x FROM t; END;')).toBe(true);
  });

  it('tableau mode prints each change as a line with its kind; an update of a key is -U/+U', () => {
    let out = '';
    const view = new ResultView('tableau', ['g', 'n'], [0], { write: (t) => (out += t), rows: 24, columns: 40 });
    view.open();
    view.apply([{ sign: 1, row: ['red', 1n] }]);
    view.apply([
      { sign: -1, row: ['red', 1n] },
      { sign: 1, row: ['red', 2n] },
      { sign: -1, row: ['blue', 1n] },
    ]);
    view.close();
    const lines = out.split('\n').filter((l) => l.startsWith('|'));
    expect(lines.map((l) => l.replace(/\s+/g, ' '))).toEqual([
      '| op | g | n |',
      '| +I | red | 1 |',
      '| -U | red | 1 |',
      '| +U | red | 2 |',
      '| -D | blue | 1 |',
    ]);
    expect(out).toContain('Received a total of 4 changes');
  });

  it('keeps what was typed ahead while a statement ran: the next keys go after it, not before', async () => {
    // A terminal: readline in terminal mode, as on a real TTY (echo, cursor, prompt).
    const input = Object.assign(new PassThrough(), { isTTY: true, setRawMode: () => input });
    const output = Object.assign(new PassThrough(), { isTTY: true, columns: 200, rows: 40 });
    let screen = '';
    output.on('data', (chunk: Buffer) => (screen += chunk.toString()));
    const dir = await mkdtemp(join(tmpdir(), 'sql-client-'));
    const done = sqlClient({
      logLevel: 'error',
      input,
      output: output as unknown as NodeJS.WriteStream,
      historyFile: join(dir, 'history'),
      logFile: join(dir, 'client.log'),
    });
    // One burst: a whole statement, and the start of the next (typed while the first runs) …
    input.write("CREATE TABLE typed_ahead (a INT) WITH ('connector' = 'jdbc');\rSHOW TAB");
    // … then the rest of it, key by key, after the client printed its prompt again.
    for (const keys of ['LES', ';', '\r', 'QUIT;\r']) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      input.write(keys);
    }
    input.end(); // so that a client that missed the QUIT leaves too, and the screen says why

    expect(await done).toBe(0);
    expect(screen).not.toContain('[ERROR]');
    expect(screen).toMatch(/table name\s*\n-+\s*\n\s*typed_ahead/);
  });
});
