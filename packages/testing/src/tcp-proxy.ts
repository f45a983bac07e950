import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A loopback TCP proxy in front of a real server, so one test can take that server away from one
 * client (the others sharing the server are not touched): `cut` resets every connection and
 * refuses new ones, as a crashed or unreachable server does; `freeze` keeps every connection open
 * but carries nothing more, as a hung server or a silently dropped network does; `restore` lets
 * traffic through again.
 */
export class TcpProxy {
  readonly #target: { host: string; port: number };
  readonly #connections = new Set<Socket>();
  #frozen = false;
  #server: Server | undefined;
  #port = 0;

  private constructor(target: { host: string; port: number }) {
    this.#target = target;
  }

  static async start(target: { host: string; port: number }): Promise<TcpProxy> {
    const proxy = new TcpProxy(target);
    await proxy.#listen(0);
    return proxy;
  }

  /** A proxy in front of the server a URL (`postgres://…`, `nats://…`) names. */
  static inFrontOf(url: string): Promise<TcpProxy> {
    const { hostname, port } = new URL(url);
    return TcpProxy.start({ host: hostname, port: Number(port) });
  }

  get port(): number {
    return this.#port;
  }

  /** `url` with its host and port replaced by this proxy's. */
  rewrite(url: string): string {
    const proxied = new URL(url);
    proxied.hostname = '127.0.0.1';
    proxied.port = String(this.#port);
    return proxied.toString();
  }

  async cut(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    for (const socket of this.#connections) socket.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  freeze(): void {
    this.#frozen = true;
  }

  async restore(): Promise<void> {
    this.#frozen = false;
    if (!this.#server) await this.#listen(this.#port);
  }

  async stop(): Promise<void> {
    await this.cut();
  }

  async #listen(port: number): Promise<void> {
    const server = createServer((client) => {
      const upstream = connect(this.#target);
      for (const socket of [client, upstream]) {
        this.#connections.add(socket);
        socket.once('close', () => this.#connections.delete(socket));
        socket.on('error', () => undefined);
      }
      const forward = (to: Socket) => (chunk: Buffer) => {
        if (!this.#frozen) to.write(chunk);
      };
      client.on('data', forward(upstream));
      upstream.on('data', forward(client));
      client.once('close', () => upstream.destroy());
      upstream.once('close', () => client.destroy());
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.#server = server;
    this.#port = (server.address() as AddressInfo).port;
  }
}
