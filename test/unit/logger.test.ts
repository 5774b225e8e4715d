import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/runtime/logger.js';

function capture(options: Parameters<typeof createLogger>[0] = {}) {
  const lines: string[] = [];
  const log = createLogger({ ...options, write: (line) => lines.push(line) });
  return { log, lines };
}

describe('logger', () => {
  it('text lines carry the level, the scope and the message, with secrets replaced', () => {
    const { log, lines } = capture({ timestamps: false });
    log.addSecret('s3cr3t-pw');
    log.child('sink').warn('connect failed for postgres://app:s3cr3t-pw@db/x');
    expect(lines).toEqual(['WARN  [sink] connect failed for postgres://app:***@db/x']);
  });

  it('--log-format json: one parseable object per line, a multi-line message stays one record', () => {
    const { log, lines } = capture({ format: 'json', level: 'debug' });
    log.addSecret('pa"ss\\word');
    log.child('source').error('[SOURCE_AUTH_FAILED] denied with pa"ss\\word\n  fix: check the password');
    log.debug('plain');
    expect(lines).toHaveLength(2);
    const first = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(first).toMatchObject({
      level: 'error',
      scope: 'source',
      message: '[SOURCE_AUTH_FAILED] denied with ***\n  fix: check the password',
    });
    expect(Number.isNaN(Date.parse(first['time'] as string))).toBe(false);
    expect(lines[0]).not.toContain('pa\\"ss');
    expect(JSON.parse(lines[1]!)).toMatchObject({ level: 'debug', message: 'plain' });
    expect(JSON.parse(lines[1]!)).not.toHaveProperty('scope');
  });

  it('drops lines below the level in both formats', () => {
    for (const format of ['text', 'json'] as const) {
      const { log, lines } = capture({ format, level: 'warn' });
      log.info('not shown');
      log.warn('shown');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain('shown');
    }
  });
});
