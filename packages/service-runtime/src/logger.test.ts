import { Writable } from 'node:stream';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from './logger.js';

function capture() {
  const lines: Array<Record<string, unknown>> = [];
  const raw: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      raw.push(String(chunk));
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  return { logger: createLogger({ service: 'test', level: 'info', destination }), lines, raw };
}

const SPAN = {
  traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
  spanId: '00f067aa0ba902b7',
  traceFlags: 1,
};

describe('createLogger', () => {
  const manager = new AsyncLocalStorageContextManager();
  beforeAll(() => {
    context.setGlobalContextManager(manager.enable());
  });
  afterAll(() => {
    manager.disable();
    context.disable();
  });

  it('when a span is active, then each line carries its trace_id and span_id; outside one, neither', () => {
    const { logger, lines } = capture();

    context.with(trace.setSpan(context.active(), trace.wrapSpanContext(SPAN)), () => {
      logger.info('inside');
    });
    logger.info('outside');

    expect(lines[0]).toMatchObject({ msg: 'inside', trace_id: SPAN.traceId, span_id: SPAN.spanId });
    expect(lines[1]).not.toHaveProperty('trace_id');
    expect(lines[1]).not.toHaveProperty('span_id');
  });

  it('when a logged object holds a password, token, authorization header, cookie or email address, then none of them reaches the log', () => {
    const { logger, raw } = capture();
    const secrets = {
      password: 'correct horse battery',
      token: 'eyJhbGciOiJIUzI1NiJ9.secret-token',
      authorization: 'Bearer eyJhbGciOiJIUzI1NiJ9.header-token',
      email: 'ada@example.test',
      cookie: 'session=abc123',
    };

    logger.info(secrets, 'top level');
    logger.info({ user: { email: secrets.email, password: secrets.password } }, 'nested');
    logger.info(
      { request: { headers: { authorization: secrets.authorization, cookie: secrets.cookie } } },
      'headers',
    );

    const text = raw.join('');
    for (const value of Object.values(secrets)) expect(text).not.toContain(value);
    expect(text).toContain('[redacted]');
  });
});
