import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { startNatsServer } from '@signup-flow/testing';
import { describe, expect, it } from 'vitest';
import { freePort, StopWaiting, waitUntil } from './ports.js';

function ephemeralRangeStart(): number {
  return Number(
    readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0],
  );
}

async function listenOn(port: number): Promise<Server> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return server;
}

describe('freePort', () => {
  it('when asked many times, then it never hands out a port twice, nor one from the ephemeral range', async () => {
    const ports = await Promise.all(Array.from({ length: 200 }, () => freePort()));
    expect(new Set(ports).size).toBe(ports.length);
    for (const port of ports) expect(port).toBeLessThan(ephemeralRangeStart());
  });

  it('when a port it would pick is in use, then it picks another', async () => {
    const port = await freePort();
    const holder = await listenOn(port);
    try {
      // Every later answer is free: listening on it succeeds.
      for (let i = 0; i < 20; i++) (await listenOn(await freePort())).close();
    } finally {
      holder.close();
    }
  });
});

describe('waitUntil', () => {
  it('when the probe says waiting cannot help, then it gives up at once with that reason', async () => {
    let probes = 0;
    const waiting = waitUntil(
      'a server that exited',
      async () => {
        probes++;
        throw new StopWaiting('the server exited: bind: address already in use');
      },
      60_000,
    );
    await expect(waiting).rejects.toThrow('the server exited: bind: address already in use');
    expect(probes).toBe(1);
  });

  it('when the probe fails otherwise, then it asks again until the probe succeeds', async () => {
    let probes = 0;
    await waitUntil('a server that starts slowly', async () => {
      probes++;
      if (probes < 3) throw new Error('connection refused');
      return true;
    });
    expect(probes).toBe(3);
  });
});

describe('NatsServer', () => {
  it('when its cluster port is taken, then start fails at once with the reason from its log', async () => {
    const routePort = await freePort();
    const holder = await listenOn(routePort);
    try {
      await expect(
        startNatsServer({
          cluster: { name: 'taken', serverName: 'n1', routePort, routePorts: [routePort] },
        }),
      ).rejects.toThrow(/nats-server exited:[\s\S]*address already in use/);
    } finally {
      holder.close();
    }
  });
});
