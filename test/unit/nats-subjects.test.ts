import { describe, expect, it } from 'vitest';
import { tableId } from '../../src/core/table-schema.js';
import {
  keyPartition,
  streamSubjects,
  subjectToken,
  subjectTokenName,
} from '../../src/connectors/nats/nats-subjects.js';

describe('nats subjects', () => {
  it('names a table subject as Debezium names topics, one token per name whatever the name holds', () => {
    const subjects = streamSubjects('shop', 1);
    expect(subjects.data(tableId('inventory', 'customers'), '{"id":1}')).toBe('shop.inventory.customers');
    for (const name of ['a.b', 'x*', '>', 'with space', 'Grüße', '', '%', '-', 'tab\t']) {
      const token = subjectToken(name);
      expect(token).toMatch(/^[A-Za-z0-9_%-]+$/);
      expect(subjectTokenName(token)).toBe(name);
    }
    expect(subjectToken('')).not.toBe(subjectToken('-'));
  });

  it('puts every key on one partition, spread over all of them, keyless rows on 0', () => {
    const subjects = streamSubjects('p', 4);
    const used = new Set<number>();
    for (let i = 0; i < 1000; i++) {
      const key = `{"id":${i}}`;
      const p = keyPartition(key, 4);
      expect(keyPartition(key, 4)).toBe(p);
      expect(subjects.data(tableId('db', 't'), key)).toBe(`p.db.t.${p}`);
      used.add(p);
    }
    expect([...used].sort()).toEqual([0, 1, 2, 3]);
    expect(keyPartition(null, 4)).toBe(0);
  });

  it('keeps control subjects apart from data subjects', () => {
    const subjects = streamSubjects('s', 1);
    expect(subjects.fence.split('.')).toHaveLength(2);
    expect(subjects.checkpoint.split('.')).toHaveLength(2);
    expect(subjects.data(tableId('_tributary_checkpoint', 'x'), null).split('.')).toHaveLength(3);
  });
});
