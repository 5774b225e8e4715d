import { describe, expect, it } from 'vitest';
import { complete } from '../../src/cli/sql-client.js';
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
});
