import { SpanStatusCode } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { ATTR_ERROR_TYPE, ERROR_TYPE_VALUE_OTHER } from './semconv.js';
import { recordFailure, redactEmailAddresses, runHookSafely } from './span-outcome.js';
import { useInMemoryTracing } from './testing/in-memory-tracing.js';

const tracing = useInMemoryTracing();

describe('recordFailure', () => {
  it('when an error is recorded, then the span has error.type, status ERROR and no email address', () => {
    const span = tracing.tracer.startSpan('work');
    class SmtpRejectedError extends Error {
      override name = 'SmtpRejectedError';
    }
    recordFailure(span, new SmtpRejectedError('550 <ada@example.com>: Recipient rejected'));
    span.end();

    const [finished] = tracing.spans();
    expect(finished?.attributes[ATTR_ERROR_TYPE]).toBe('SmtpRejectedError');
    expect(finished?.status).toEqual({
      code: SpanStatusCode.ERROR,
      message: '550 <[email]>: Recipient rejected',
    });
    expect(JSON.stringify(finished?.events)).not.toContain('ada@example.com');
  });

  it('when something other than an Error is thrown, then error.type is _OTHER', () => {
    const span = tracing.tracer.startSpan('work');
    recordFailure(span, 'a string');
    span.end();

    expect(tracing.spans()[0]?.attributes[ATTR_ERROR_TYPE]).toBe(ERROR_TYPE_VALUE_OTHER);
  });
});

describe('redactEmailAddresses', () => {
  it.each([
    ['recipients', 'to a.b+c@mail.example.org, cc x@y.io', 'to [email], cc [email]'],
    [
      'a dotless domain and a quoted one',
      '550 <ada@localhost>: unknown; "jo@example.test" in JSON',
      '550 <[email]>: unknown; "[email]" in JSON',
    ],
  ])('when a text contains addresses (%s), then each is replaced', (_what, text, redacted) => {
    expect(redactEmailAddresses(text)).toBe(redacted);
  });
});

describe('runHookSafely', () => {
  it('when a hook throws or rejects, then the caller carries on', async () => {
    const calls: string[] = [];
    runHookSafely(
      'throwing',
      (value: string) => {
        calls.push(value);
        throw new Error('hook bug');
      },
      'sync',
    );
    runHookSafely(
      'rejecting',
      async (value: string) => {
        calls.push(value);
        throw new Error('async hook bug');
      },
      'async',
    );
    // Let the rejected promise settle: an unhandled rejection would fail the test run.
    await new Promise((resolve) => setImmediate(resolve));

    expect(calls).toEqual(['sync', 'async']);
  });
});
