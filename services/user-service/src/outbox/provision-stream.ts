import { jetstreamManager } from '@nats-io/jetstream';
import {
  ensureStream,
  type NatsLink,
  type UsersStreamOptions,
  usersStreamConfig,
} from '@signup-flow/nats';
import type { Logger } from '@signup-flow/service-runtime';

const RETRY_DELAY_MS = 2000;

/**
 * Creates or updates the USERS stream once NATS is reachable, retrying until it succeeds or
 * `signal` aborts. Runs in the background: signup does not wait for it.
 */
export async function provisionUsersStream(
  link: NatsLink,
  options: UsersStreamOptions,
  logger: Logger,
  signal: AbortSignal,
): Promise<void> {
  const config = usersStreamConfig(options);
  while (!signal.aborted) {
    try {
      const connection = await link.connected();
      const info = await ensureStream(await jetstreamManager(connection), config);
      logger.info(
        { stream: info.config.name, replicas: info.config.num_replicas },
        'JetStream stream provisioned',
      );
      return;
    } catch (error) {
      logger.warn({ err: error, stream: config.name }, 'cannot provision stream yet, retrying');
      await new Promise((resolve) => setTimeout(resolve, RETRY_DELAY_MS));
    }
  }
}
