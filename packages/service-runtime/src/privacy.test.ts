import { describe, expect, it } from 'vitest';
import { safeOneLine } from './privacy.js';

describe('safeOneLine', () => {
  it.each([
    [
      'a JSON parse error',
      'Unexpected token \'a\', "ada@example.test" is not\nvalid JSON',
      'Unexpected token \'a\', "<address>" is not valid JSON',
    ],
    [
      'an SMTP reply',
      '550 5.1.1 <jo.doe+x@mail.example.test>: unknown',
      '550 5.1.1 <<address>>: unknown',
    ],
    ['a dotless domain', '550 <ada@localhost>: unknown', '550 <<address>>: unknown'],
  ])(
    'when a text quotes email addresses (%s), then they are masked and the text is one line',
    (_what, text, safe) => {
      expect(safeOneLine(text)).toBe(safe);
    },
  );
});
