import { describe, expect, it } from 'vitest';
import { describeSmtpError, isPermanentSmtpError } from './smtp-mailer.js';

describe('SMTP error classification', () => {
  it('when the reply is 5xx, then it is permanent; 4xx, 503 and network errors are transient', () => {
    expect(isPermanentSmtpError({ responseCode: 550 })).toBe(true);
    expect(isPermanentSmtpError({ responseCode: 421 })).toBe(false);
    expect(isPermanentSmtpError({ responseCode: 503, permanent: false })).toBe(false);
    expect(isPermanentSmtpError({ code: 'ECONNECTION' })).toBe(false);
    expect(isPermanentSmtpError(new Error('socket hang up'))).toBe(false);
  });

  it('when the reply quotes an address, then the description hides it', () => {
    const description = describeSmtpError(
      Object.assign(new Error('550 5.1.1 <jo@example.test>: unknown\nuser'), { code: 'EENVELOPE' }),
    );

    expect(description).toBe('EENVELOPE: 550 5.1.1 <<address>>: unknown user');
  });
});
