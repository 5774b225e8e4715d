import { describe, expect, it } from 'vitest';
import { postgresSinkConfig } from '../../src/connectors/postgres/postgres-sink-config.js';

describe('postgresSinkConfig write modes', () => {
  it('defaults to upsert, and to the _changelog suffix', () => {
    const config = postgresSinkConfig({ database: 'w' });
    expect(config.writeMode).toBe('upsert');
    expect(config.appendTableSuffix).toBe('_changelog');
  });

  it('takes merge and append, and an empty suffix', () => {
    expect(postgresSinkConfig({ database: 'w', 'write-mode': 'merge' }).writeMode).toBe('merge');
    const append = postgresSinkConfig({ database: 'w', 'write-mode': 'append', 'append.table-suffix': '' });
    expect(append.writeMode).toBe('append');
    expect(append.appendTableSuffix).toBe('');
  });

  it('refuses an unknown mode with CONFIG_INVALID', () => {
    expect(() => postgresSinkConfig({ database: 'w', 'write-mode': 'replace' })).toThrow(
      expect.objectContaining({ code: 'CONFIG_INVALID', hint: 'use upsert, merge or append' }),
    );
  });
});
