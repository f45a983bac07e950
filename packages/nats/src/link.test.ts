import { describe, expect, it } from 'vitest';
import { natsConnectionOptions } from './link.js';

describe('natsConnectionOptions', () => {
  it('turns off the stack trace nats.js captures per request', async () => {
    const options = await natsConnectionOptions({ servers: ['nats://127.0.0.1:4222'] }, 'svc');
    expect(options).toMatchObject({ servers: ['nats://127.0.0.1:4222'], name: 'svc' });
    expect(options.noAsyncTraces).toBe(true);
  });
});
