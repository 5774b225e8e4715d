import { describe, expect, it } from 'vitest';
import { changeIndexText } from '../../src/connectors/source-kit/index.js';

describe('changeIndexText', () => {
  it('zero-pads an index to 10 digits, in any order and past the kept ones', () => {
    for (const index of [70_000, 3, 0, 65_535, 65_536, 9_999_999_999, 12_345]) {
      expect(changeIndexText(index)).toBe(String(index).padStart(10, '0'));
    }
  });
});
