import { describe, expect, it } from 'vitest';
import { PORT_VARIABLES, stackPorts } from './stack.js';

describe('stackPorts', () => {
  it('when nothing is set, then the contract ports are used', () => {
    const ports = stackPorts({});
    expect(ports).toMatchObject({
      userService: 8080,
      messagingService: 8081,
      inbox: 8025,
      jaeger: 16686,
      otlpHttp: 4318,
      prometheus: 9090,
    });
    expect(new Set(Object.values(ports)).size).toBe(Object.keys(PORT_VARIABLES).length);
  });

  it('when a variable moves a port, then only that port moves', () => {
    expect(stackPorts({ USER_SERVICE_PORT: '18080' })).toMatchObject({
      userService: 18080,
      inbox: 8025,
    });
  });

  it('when a variable is not a port, then it says which and why', () => {
    expect(() => stackPorts({ INBOX_PORT: 'mail' })).toThrow(
      /INBOX_PORT must be a port number, not "mail"/,
    );
    expect(() => stackPorts({ NATS_PORT: '70000' })).toThrow(/NATS_PORT/);
  });
});
