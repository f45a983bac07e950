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

export async function startHttpServer(
  app: Koa,
  port: number,
  host?: string,
): Promise<RunningHttpServer> {
  const handle = app.callback();
  let closing = false;
  const server = createServer((request, response) => {
    if (closing) {
      // Tell keep-alive clients to go elsewhere, and drop the connection once this answer is out.
      response.setHeader('Connection', 'close');
    }
    response.once('finish', () => {
      if (closing) setImmediate(() => server.closeIdleConnections());
    });
    return handle(request, response);
  });
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
