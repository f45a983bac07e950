import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type Koa from 'koa';

export interface RunningHttpServer {
  server: Server;
  port: number;
  /**
   * Stops accepting connections and waits for in-flight requests; connections still busy after
   * `graceMs` are cut.
   */
  close(graceMs: number): Promise<void>;
}

/** How long a client may take; a slow or stalled one must not hold a connection for ever. */
export interface ClientTimeouts {
  /** To send the request line and headers. @default 10000 */
  headersTimeoutMs?: number;
  /** To send the whole request, body included. @default 30000 */
  requestTimeoutMs?: number;
}

export async function startHttpServer(
  app: Koa,
  port: number,
  host?: string,
  timeouts: ClientTimeouts = {},
): Promise<RunningHttpServer> {
  const handle = app.callback();
  let closing = false;
  const headersTimeout = timeouts.headersTimeoutMs ?? 10_000;
  const requestTimeout = timeouts.requestTimeoutMs ?? 30_000;
  const server = createServer(
    {
      headersTimeout,
      requestTimeout,
      // Node checks the two timeouts at this interval (30 s by default, longer than both).
      connectionsCheckingInterval: Math.min(1_000, Math.ceil(headersTimeout / 4)),
    },
    (request, response) => {
      if (closing) {
        // Tell keep-alive clients to go elsewhere, and drop the connection once this answer is out.
        response.setHeader('Connection', 'close');
      }
      response.once('finish', () => {
        if (closing) setImmediate(() => server.closeIdleConnections());
      });
      return handle(request, response);
    },
  );
  // Keep-alive longer than typical load balancers' idle timeout, so they close first.
  server.keepAliveTimeout = 65_000;
  server.listen(port, host);
  await once(server, 'listening');
  const address = server.address() as AddressInfo;
  return {
    server,
    port: address.port,
    async close(graceMs) {
      closing = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const deadline = setTimeout(() => server.closeAllConnections(), graceMs);
      await closed;
      clearTimeout(deadline);
    },
  };
}
