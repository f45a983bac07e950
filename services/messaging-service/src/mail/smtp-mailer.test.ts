import { describe, expect, it } from 'vitest';
import { classifySmtpError, describeSmtpError, SEND_FAILURES } from './smtp-mailer.js';

describe('SMTP error classification', () => {
  it.each([
    ['connection refused or reset', { code: 'ECONNECTION' }, SEND_FAILURES.serverUnavailable],
    ['a socket error', { code: 'ESOCKET' }, SEND_FAILURES.serverUnavailable],
    [
      'no connection in time',
      { code: 'ETIMEDOUT', timeoutType: 'CONNECT_TIMEOUT' },
      SEND_FAILURES.serverUnavailable,
    ],
    [
      'no greeting in time',
      { code: 'ETIMEDOUT', timeoutType: 'GREETING_TIMEOUT' },
      SEND_FAILURES.serverUnavailable,
    ],
    [
      '421 service not available',
      { code: 'EENVELOPE', responseCode: 421 },
      SEND_FAILURES.serverUnavailable,
    ],
    [
      'credentials refused (535)',
      { code: 'EAUTH', responseCode: 535 },
      SEND_FAILURES.serverUnavailable,
    ],
    ['450 mailbox busy', { code: 'EENVELOPE', responseCode: 450 }, SEND_FAILURES.messageTransient],
    ['451 local error', { code: 'EMESSAGE', responseCode: 451 }, SEND_FAILURES.messageTransient],
    [
      '452 insufficient storage',
      { code: 'EENVELOPE', responseCode: 452 },
      SEND_FAILURES.messageTransient,
    ],
    [
      '503 bad sequence',
      { code: 'EPROTOCOL', responseCode: 503, permanent: false },
      SEND_FAILURES.messageTransient,
    ],
    [
      'no reply in time after greeting',
      { code: 'ETIMEDOUT', timeoutType: 'SOCKET_TIMEOUT' },
      SEND_FAILURES.messageTransient,
    ],
    ['550 no such user', { code: 'EENVELOPE', responseCode: 550 }, SEND_FAILURES.permanent],
    ['554 rejected', { code: 'EMESSAGE', responseCode: 554 }, SEND_FAILURES.permanent],
    ['no recipient', { code: 'EENVELOPE' }, SEND_FAILURES.permanent],
    ['the caller aborted', { code: 'EABORT' }, SEND_FAILURES.aborted],
    ['a bare error', new Error('socket hang up'), SEND_FAILURES.serverUnavailable],
  ])('when the send fails with %s, then it is %s', (_what, error, expected) => {
    expect(classifySmtpError(error)).toBe(expected);
  });

  it('when the reply quotes an address, then the description hides it', () => {
    const description = describeSmtpError(
      Object.assign(new Error('550 5.1.1 <jo@example.test>: unknown\nuser'), { code: 'EENVELOPE' }),
    );

    expect(description).toBe('EENVELOPE: 550 5.1.1 <<address>>: unknown user');
  });
});
