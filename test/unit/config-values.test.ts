import { describe, expect, it } from 'vitest';
import { didYouMean } from '../../src/config/did-you-mean.js';
import { formatDuration, parseDuration } from '../../src/core/duration.js';
import { interpolateEnv } from '../../src/config/env-interpolation.js';
import { coerceOption, redactOptions } from '../../src/config/read-options.js';

describe('durations', () => {
  it('reads Flink duration text in milliseconds', () => {
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('3s')).toBe(3000);
    expect(parseDuration('3 s')).toBe(3000);
    expect(parseDuration('1min')).toBe(60_000);
    expect(parseDuration('2 minutes')).toBe(120_000);
    expect(parseDuration('1h')).toBe(3_600_000);
    expect(parseDuration('1d')).toBe(86_400_000);
    expect(parseDuration('250')).toBe(250);
    expect(parseDuration('1S')).toBe(1000);
  });

  it('refuses anything else', () => {
    for (const text of ['', 's', '1.5s', '-1s', '3 fortnights', 'soon', '1s2'])
      expect(parseDuration(text)).toBeUndefined();
  });

  it('formats the shortest exact form', () => {
    expect([3000, 60_000, 1500, 3_600_000].map(formatDuration)).toEqual(['3s', '1min', '1500ms', '1h']);
  });
});

describe('${VAR} substitution', () => {
  const env = { USER: 'cdc', EMPTY: '' };

  it('substitutes set variables, defaults, and $${ as a literal', () => {
    expect(interpolateEnv('${USER}@host', env).value).toBe('cdc@host');
    expect(interpolateEnv('${NOPE:-fallback}', env).value).toBe('fallback');
    expect(interpolateEnv('${EMPTY:-fallback}', env).value).toBe('fallback');
    expect(interpolateEnv('${EMPTY}', env)).toMatchObject({ value: '', missing: [] });
    expect(interpolateEnv('$${USER} costs $5', env).value).toBe('${USER} costs $5');
  });

  it('names missing variables and malformed references, and which variables were read', () => {
    expect(interpolateEnv('${A}${USER}${B}', env)).toMatchObject({
      missing: ['A', 'B'],
      variables: ['A', 'USER', 'B'],
    });
    expect(interpolateEnv('${MY-VAR} ${open', env).malformed).toEqual(['${MY-VAR}', '${open']);
    expect(interpolateEnv('plain', env)).toEqual({ value: 'plain', variables: [], missing: [], malformed: [] });
  });
});

describe('option values', () => {
  it('suggests by edit distance, and by dotted suffix', () => {
    expect(didYouMean('scan.startup.mod', ['scan.startup.mode', 'tables'])).toBe('scan.startup.mode');
    expect(didYouMean('hostnmae', ['hostname', 'port'])).toBe('hostname');
    expect(didYouMean('interval', ['checkpoint.interval', 'name'])).toBe('checkpoint.interval');
    expect(didYouMean('colour', ['hostname', 'port'])).toBeUndefined();
  });

  it('types values per spec and says what to write instead', () => {
    const spec = { key: 'mode', type: 'enum', values: ['initial', 'latest-offset'], description: '' } as const;
    expect(coerceOption(spec, 'INITIAL', '"INITIAL"')).toEqual({ value: 'initial' });
    expect(coerceOption(spec, 'latest-ofset', '"latest-ofset"')).toEqual({
      problem: '"latest-ofset" is not one of initial, latest-offset — did you mean "latest-offset"?',
    });
    expect(coerceOption({ key: 'n', type: 'integer', description: '' }, '12', '"12"')).toEqual({ value: 12 });
    expect(coerceOption({ key: 'n', type: 'integer', description: '' }, '1.5', '"1.5"')).toHaveProperty('problem');
  });

  it('redacts secrets for printing', () => {
    const specs = [
      { key: 'password', type: 'secret', description: '' },
      { key: 'port', type: 'integer', description: '' },
    ] as const;
    expect(redactOptions({ password: 'x', port: 1 }, specs)).toEqual({ password: '***', port: 1 });
  });
});
