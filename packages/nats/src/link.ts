import { readFile } from 'node:fs/promises';
import {
  type ConnectionOptions,
  credsAuthenticator,
  type NatsConnection,
} from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { NatsSettings } from './config.js';

export interface NatsLinkOptions {
  settings: NatsSettings;
  /** Shown in the server's connection list (`nats server report connections`). */
  name: string;
  logger: Logger;
  /** Delay between reconnect attempts. @default 1000 */
  reconnectTimeWaitMs?: number;
}

/**
 * A NATS connection that never blocks start-up: it keeps trying to connect in the background,
 * reconnects forever, and reports whether it is connected right now. Services that must work while
 * NATS is down (the user-service) hold one of these instead of a bare connection.
 */
export interface NatsLink {
  /** Resolves with the connection once it first succeeds (never, if closed before that). */
  connected(): Promise<NatsConnection>;
  isConnected(): boolean;
  /** Drains the connection (flushing pending publishes) and stops reconnecting. */
  close(): Promise<void>;
}

/**
 * The connection options the settings ask for: servers, credentials, TLS. Without nats.js's async
 * traces: on by default, they capture two stack traces per request (every JetStream publish), only
 * to append the caller's frames to a failed request's error, whose message and cause say what
 * failed. They cost a publish 40 % of its client CPU (about 48 against 28 µs on a 2-core host).
 */
export async function natsConnectionOptions(
  settings: NatsSettings,
  name: string,
): Promise<ConnectionOptions> {
  const credentials = settings.credentialsFile
    ? await readFile(settings.credentialsFile)
    : undefined;
  return {
    servers: settings.servers,
    name,
    noAsyncTraces: true,
    ...(credentials ? { authenticator: credsAuthenticator(credentials) } : {}),
    ...(settings.user ? { user: settings.user } : {}),
    ...(settings.password ? { pass: settings.password } : {}),
    ...(settings.tls ? { tls: settings.tls } : {}),
  };
}

export async function openNatsLink(options: NatsLinkOptions): Promise<NatsLink> {
  const { settings, logger } = options;
  const connection = await natsConnectionOptions(settings, options.name);
  let connectedNow = false;
  let closing = false;

  const reconnectTimeWait = options.reconnectTimeWaitMs ?? 1000;
  const connectOnce = () => connect({ ...connection, maxReconnectAttempts: -1, reconnectTimeWait });

  // Not nats.js's waitOnFirstConnect: it retries in silence, and a refused login or an
  // unreachable server must show in the log, once per new reason.
  const connectFirst = async (): Promise<NatsConnection> => {
    let lastReason: string | undefined;
    for (;;) {
      try {
        return await connectOnce();
      } catch (error) {
        // Closed before the first connection: nothing waits for one any more.
        if (closing) return new Promise<never>(() => undefined);
        const reason = error instanceof Error ? error.message : String(error);
        if (reason !== lastReason) {
          logger.error({ err: error }, 'cannot connect to NATS; retrying');
          lastReason = reason;
        }
        await new Promise((resolve) => setTimeout(resolve, reconnectTimeWait));
      }
    }
  };
  const connecting = connectFirst();

  void connecting.then(async (connection) => {
    connectedNow = true;
    logger.info({ server: connection.getServer() }, 'connected to NATS');
    for await (const status of connection.status()) {
      switch (status.type) {
        case 'disconnect':
          connectedNow = false;
          logger.warn({ server: status.server }, 'disconnected from NATS');
          break;
        case 'reconnect':
          connectedNow = true;
          logger.info({ server: status.server }, 'reconnected to NATS');
          break;
        case 'error':
          logger.error({ err: status.error }, 'NATS error');
          break;
        case 'close':
          connectedNow = false;
          break;
      }
    }
  });

  return {
    connected: () => connecting,
    isConnected: () => connectedNow,
    async close() {
      closing = true;
      const connection = await Promise.race([connecting, Promise.resolve(undefined)]);
      if (connection && !connection.isClosed()) {
        await connection.drain();
      } else {
        // Still trying the first connection: give up on it.
        void connecting.then((late) => late.close());
      }
    },
  };
}
