import { describe, expect, it } from 'vitest';
import { safeOneLine } from './privacy.js';

describe('safeOneLine', () => {
  it('when a text quotes email addresses, then they are masked and the text is one line', () => {
    expect(safeOneLine('Unexpected token \'a\', "ada@example.test" is not\nvalid JSON')).toBe(
      'Unexpected token \'a\', "<address>" is not valid JSON',
    );
    expect(safeOneLine('550 5.1.1 <jo.doe+x@mail.example.test>: unknown')).toBe(
      '550 5.1.1 <<address>>: unknown',
    );
    expect(safeOneLine('550 <ada@localhost>: unknown')).toBe('550 <<address>>: unknown');
  });
});
