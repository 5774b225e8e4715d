import { describe, expect, it } from 'vitest';
import { formatTable } from '../../src/cli/format-table.js';

describe('formatTable (issue 10)', () => {
  it('right-aligns columns of numbers, as psql does, and leaves text left-aligned', () => {
    const text = formatTable([
      { id: 1, name: 'Ann', price: '29.99', phone: '123567891234' },
      { id: 111, name: 'Bo', price: '1.5', phone: '' },
      { id: 7n, name: null, price: null, phone: '42' },
    ]);
    expect(text.split('\n')).toEqual([
      ' id  | name | price | phone       ',
      '-----+------+-------+--------------',
      '   1 | Ann  | 29.99 | 123567891234',
      ' 111 | Bo   |   1.5 |             ',
      '   7 |      |       | 42          ',
      '(3 rows)',
    ]);
  });

  it('counts in the words it needs', () => {
    expect(
      formatTable([{ n: 1 }])
        .split('\n')
        .at(-1),
    ).toBe('(1 row)');
    expect(formatTable([])).toBe('(no rows)');
  });
});
