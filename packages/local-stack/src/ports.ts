import { readFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';

/**
 * Ports are handed out below the kernel's ephemeral range, because a port from `listen(0)` sits in
 * that range and, once closed again, can become the source port of any outgoing connection (a
 * PostgreSQL pool, a NATS client) before the server it was meant for binds it. Each vitest worker
 * gets its own slice, so two test files running side by side never pick the same port, and this
 * process never hands out a port twice.
 */
const FIRST_PORT = 10_000;
const SLICES = 8;
const handedOut = new Set<number>();

function ephemeralRangeStart(): number {
  try {
    const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')
      .trim()
      .split(/\s+/);
    const port = Number(low);
    return Number.isInteger(port) && port > FIRST_PORT + SLICES * 100 ? port : 32_768;
  } catch {
    return 32_768;
  }
}

let ownSlice: { first: number; size: number } | undefined;

/** This process's ports; the range and the worker id do not change while it runs. */
function slice(): { first: number; size: number } {
  if (!ownSlice) {
    const size = Math.floor((ephemeralRangeStart() - FIRST_PORT) / SLICES);
    const pool = Number(process.env.VITEST_POOL_ID ?? 0) % SLICES;
    ownSlice = { first: FIRST_PORT + pool * size, size };
  }
  return ownSlice;
}

async function canListen(port: number, host: string): Promise<boolean> {
  const server = createServer();
  const listening = await new Promise<boolean>((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, host, () => resolve(true));
  });
  if (listening) await new Promise<void>((resolve) => server.close(() => resolve()));
  return listening;
}

/** A loopback port nothing listens on, that this process has not handed out before. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const { first, size } = slice();
  const start = Math.floor(Math.random() * size);
  for (let offset = 0; offset < size; offset++) {
    const port = first + ((start + offset) % size);
    if (handedOut.has(port)) continue;
    // Taken before the check, so that concurrent calls cannot pick the same port.
    handedOut.add(port);
    if (await canListen(port, host)) return port;
  }
  throw new Error(`no free port left in ${first}-${first + size - 1}`);
}

/** True when something accepts TCP connections on the port. */
export async function isPortOpen(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Thrown by a probe when waiting longer cannot help, e.g. the process it waits for has exited. */
export class StopWaiting extends Error {
  override name = 'StopWaiting';
}

/**
 * Polls `probe` until it returns true, or throws after `timeoutMs` with `what` in the message. A
 * probe that throws is asked again, unless it throws {@link StopWaiting}.
 */
export async function waitUntil(
  what: string,
  probe: () => Promise<boolean>,
  timeoutMs = 30_000,
  intervalMs = 50,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ready = await probe().catch((error: unknown) => {
      if (error instanceof StopWaiting) throw error;
      return false;
    });
    if (ready) return;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  throw new Error(`${what} was not ready after ${timeoutMs} ms`);
}
