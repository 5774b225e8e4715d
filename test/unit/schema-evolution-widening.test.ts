import { describe, expect, it } from 'vitest';
import { formatDataType, type DataType } from '../../src/core/data-type.js';
import { valueConverter, widenType } from '../../src/transform/schema-evolution/type-widening.js';
import {
  acceptedSchemaChanges,
  parseSchemaChangeList,
} from '../../src/transform/schema-evolution/schema-change-types.js';

const t = (kind: string, extra: object = {}) => ({ kind, ...extra }) as DataType;
const widen = (a: DataType, b: DataType) => {
  const wider = widenType(a, b);
  return wider === undefined ? undefined : formatDataType(wider);
};

describe('widenType (the widening lattice)', () => {
  it('widens integers up the chain, in both argument orders', () => {
    expect(widen(t('int8'), t('int16'))).toBe('int16');
    expect(widen(t('int64'), t('int32'))).toBe('int64');
    expect(widen(t('uint16'), t('uint32'))).toBe('uint32');
  });

  it('puts an unsigned type under the signed type twice as wide; uint64 with a signed one → decimal(20,0)', () => {
    expect(widen(t('uint8'), t('int8'))).toBe('int16');
    expect(widen(t('int32'), t('uint32'))).toBe('int64');
    expect(widen(t('uint64'), t('int8'))).toBe('decimal(20,0)');
  });

  it('grows decimals to the larger integer digits and the larger scale, and takes integers in', () => {
    expect(widen(t('decimal', { precision: 10, scale: 2 }), t('decimal', { precision: 6, scale: 4 }))).toBe(
      'decimal(12,4)',
    );
    expect(widen(t('int32'), t('decimal', { precision: 5, scale: 2 }))).toBe('decimal(12,2)');
  });

  it('grows text, binary, bit, enum and fractional seconds', () => {
    expect(widen(t('varchar', { length: 10 }), t('varchar', { length: 64 }))).toBe('varchar(64)');
    expect(widen(t('char', { length: 10 }), t('varchar', { length: 4 }))).toBe('varchar(10)');
    expect(widen(t('varchar', { length: 10 }), t('string'))).toBe('string');
    expect(widen(t('enum', { values: ['a', 'b'] }), t('enum', { values: ['b', 'c'] }))).toBe("enum('a','b','c')");
    expect(widen(t('binary', { length: 4 }), t('varbinary', { length: 2 }))).toBe('varbinary(4)');
    expect(widen(t('bit', { length: 1 }), t('bit', { length: 8 }))).toBe('bit(8)');
    expect(widen(t('timestamp', { precision: 0 }), t('timestamp', { precision: 6 }))).toBe('timestamp(6)');
    expect(widen(t('float'), t('double'))).toBe('double');
  });

  it('finds no common type outside the lattice', () => {
    expect(widen(t('int32'), t('varchar', { length: 10 }))).toBeUndefined();
    expect(widen(t('timestamp', { precision: 3 }), t('timestamptz', { precision: 3 }))).toBeUndefined();
    expect(widen(t('int64'), t('double'))).toBeUndefined();
    expect(widen(t('date'), t('timestamp', { precision: 0 }))).toBeUndefined();
    expect(widen(t('json'), t('string'))).toBeUndefined();
    expect(widen(t('boolean'), t('int8'))).toBeUndefined();
  });
});

describe('valueConverter', () => {
  it('turns numbers into bigints for int64 and into decimal text for decimals', () => {
    expect(valueConverter(t('int32'), t('int64'))?.(7)).toBe(7n);
    expect(valueConverter(t('int16'), t('decimal', { precision: 7, scale: 2 }))?.(-3)).toBe('-3.00');
  });

  it('pads decimal scale, fractional seconds and bit strings', () => {
    const scale = valueConverter(t('decimal', { precision: 5, scale: 1 }), t('decimal', { precision: 8, scale: 3 }));
    expect(scale?.('12.5')).toBe('12.500');
    const tz = valueConverter(t('timestamptz', { precision: 0 }), t('timestamptz', { precision: 3 }));
    expect(tz?.('2024-03-01 10:00:00Z')).toBe('2024-03-01 10:00:00.000Z');
    expect(valueConverter(t('bit', { length: 2 }), t('bit', { length: 4 }))?.('11')).toBe('0011');
  });

  it('leaves values whose representation does not change', () => {
    expect(valueConverter(t('int8'), t('int32'))).toBeUndefined();
    expect(valueConverter(t('varchar', { length: 1 }), t('string'))).toBeUndefined();
    expect(valueConverter(t('int64'), t('int32'))).toBeUndefined();
  });
});

describe('include.schema.changes / exclude.schema.changes', () => {
  it('expands Flink CDC groups and reports unknown names', () => {
    expect(parseSchemaChangeList('[drop, add.column]').types.sort()).toEqual([
      'add.column',
      'drop.column',
      'drop.table',
    ]);
    expect(parseSchemaChangeList('add.column, drop.colum').unknown).toEqual(['drop.colum']);
  });

  it('lets exclusion win and always accepts create.table', () => {
    const accepted = acceptedSchemaChanges('column', 'drop');
    expect([...accepted].sort()).toEqual(['add.column', 'alter.column.type', 'create.table', 'rename.column']);
  });
});
