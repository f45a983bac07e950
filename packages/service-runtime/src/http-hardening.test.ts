import { once } from 'node:events';
import { connect } from 'node:net';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { type RunningHttpServer, startHttpServer } from './http-server.js';
import { createServiceApp } from './service-app.js';

let running: RunningHttpServer | undefined;
afterEach(async () => {
  await running?.close(100);
  running = undefined;
});

async function serve(timeouts = {}): Promise<number> {
  const app = createServiceApp({
    logger: pino({ level: 'silent' }),
    registry: new Registry(),
    dependencies: [],
    isDraining: () => false,
  });
  app.use(async (ctx) => {
    if (ctx.path === '/boom') throw new Error('boom');
    // As the JSON routes do: the whole body is read before the answer.
    for await (const _ of ctx.req);
    ctx.body = { ok: true };
  });
  running = await startHttpServer(app, 0, '127.0.0.1', timeouts);
  return running.port;
}

/** Writes `request` over a raw socket and returns what the server sent before it closed. */
async function rawExchange(port: number, request: string): Promise<string> {
  const socket = connect({ port, host: '127.0.0.1' });
  let answer = '';
  socket.on('data', (chunk) => {
    answer += chunk;
  });
  socket.write(request);
  await once(socket, 'close');
  return answer;
}

describe('HTTP hardening', () => {
  it.each(['/', '/healthz', '/boom', '/nothing-here'])(
    'when %s is requested, then the answer says nosniff and names no server software',
    async (path) => {
      const port = await serve();
      const response = await fetch(`http://127.0.0.1:${port}${path}`);
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(response.headers.get('x-powered-by')).toBeNull();
      expect(response.headers.get('server')).toBeNull();
    },
  );

  it('when a client stalls in the middle of its headers, then the server answers 408 and closes', async () => {
    const port = await serve({ headersTimeoutMs: 300, requestTimeoutMs: 1_000 });
    const answer = await rawExchange(port, 'GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ');
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('when a client sends its headers but stalls in the body, then the request times out with 408', async () => {
    const port = await serve({ headersTimeoutMs: 300, requestTimeoutMs: 600 });
    const answer = await rawExchange(
      port,
      'POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"a":',
    );
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
  });
});
