import { describe, expect, it } from 'vitest';
import { DECODE_FAILURES, type DecodeFailure, decodeEvent, encodeEvent } from './decode.js';
import { EVENT_TYPES } from './names.js';
import { codePointLength, createUserCreatedEvent, USER_LIMITS } from './user-created.js';

const DATA = {
  userId: '0190a3c4-1111-7000-8000-000000000003',
  email: 'ada@example.test',
  name: 'Ada',
  createdAt: '2026-11-29T04:00:00.000Z',
};
const event = createUserCreatedEvent({ source: '/user-service', data: DATA });
const body = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));
/** A row of the refused bodies below: a CloudEvent whose envelope or data breaks the contract. */
const invalidEvent = (what: string, invalid: object): [string, Uint8Array, DecodeFailure] => [
  what,
  body(invalid),
  DECODE_FAILURES.invalidEvent,
];

describe('decodeEvent', () => {
  it('when the body is the contract CloudEvent, then it decodes to the same event', () => {
    expect(decodeEvent(encodeEvent(event))).toEqual({ ok: true, event });
    expect(event).toMatchObject({
      specversion: '1.0',
      type: EVENT_TYPES.userCreated,
      subject: DATA.userId,
      time: DATA.createdAt,
      datacontenttype: 'application/json',
      source: '/user-service',
    });
    expect(event.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7/);
  });

  it.each([
    ['not JSON', new TextEncoder().encode('{"not json'), DECODE_FAILURES.notJson],
    // A JSON string holding an invalid byte: lenient decoding would make it valid JSON.
    ['not UTF-8', new Uint8Array([0x22, 0xff, 0x22]), DECODE_FAILURES.notJson],
    ['JSON but no CloudEvent', body({ hello: 'world' }), DECODE_FAILURES.notCloudEvent],
    ['another specversion', body({ ...event, specversion: '0.3' }), DECODE_FAILURES.notCloudEvent],
    ['an unknown type', body({ ...event, type: 'io.example.other' }), DECODE_FAILURES.unknownType],
    [
      'a type named like an Object property',
      body({ ...event, type: 'toString' }),
      DECODE_FAILURES.unknownType,
    ],
    invalidEvent('a bad user id', { ...event, data: { ...DATA, userId: 'x' } }),
    invalidEvent('a bad email', { ...event, data: { ...DATA, email: 'nope' } }),
    invalidEvent('an empty name', { ...event, data: { ...DATA, name: '' } }),
    invalidEvent('an extra data field', { ...event, data: { ...DATA, password: 'x' } }),
    invalidEvent('no time', { ...event, time: undefined }),
    invalidEvent('an empty source', { ...event, source: '' }),
    invalidEvent('another content type', { ...event, datacontenttype: 'text/plain' }),
  ])('when the body has %s, then it fails as %s', (_what, input, reason) => {
    const result = decodeEvent(input);

    expect(result).toMatchObject({ ok: false, reason });
    if (!result.ok) expect(result.detail.length).toBeGreaterThan(0);
  });

  it('when an invalid event is refused, then the detail names the field', () => {
    const result = decodeEvent(body({ ...event, data: { ...DATA, userId: 'x' } }));

    expect(result.ok || result.detail).toMatch(/^data\.userId: /);
  });

  it('when names and emails are at their limits, then they pass; one past, they fail', () => {
    const longest = '𝒜'.repeat(USER_LIMITS.nameMaxLength);
    const email = `${'a'.repeat(USER_LIMITS.emailMaxLength - '@example.test'.length)}@example.test`;
    const at = createUserCreatedEvent({ source: '/s', data: { ...DATA, name: longest, email } });
    const over = { ...at, data: { ...at.data, name: `${longest}x` } };
    const emailOver = { ...at, data: { ...at.data, email: `a${email}` } };

    expect(codePointLength(longest)).toBe(USER_LIMITS.nameMaxLength);
    expect(decodeEvent(encodeEvent(at)).ok).toBe(true);
    expect(decodeEvent(body(over))).toMatchObject({
      ok: false,
      reason: DECODE_FAILURES.invalidEvent,
    });
    expect(decodeEvent(body(emailOver))).toMatchObject({
      ok: false,
      reason: DECODE_FAILURES.invalidEvent,
    });
  });

  it('when an event is created with its own id and time, then they are kept', () => {
    const made = createUserCreatedEvent({
      source: '/s',
      data: DATA,
      id: '0190a3c4-2222-7000-8000-000000000004',
      time: '2026-11-29T05:00:00.000Z',
    });

    expect(made).toMatchObject({
      id: '0190a3c4-2222-7000-8000-000000000004',
      time: '2026-11-29T05:00:00.000Z',
    });
  });
});
