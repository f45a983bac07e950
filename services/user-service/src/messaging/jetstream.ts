/**
 * The user-service's JetStream definitions: the USERS stream it owns, and its provisioning. The
 * user-service chart's NACK Stream is checked against this module (test/k8s/nack.test.ts).
 */
import {
  DiscardPolicy,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
} from '@nats-io/jetstream';
import { nanos } from '@nats-io/nats-core';
import { STREAMS, SUBJECTS } from '@signup-flow/events';
import { ensureStream, type NatsLink } from '@signup-flow/nats';
import type { Logger } from '@signup-flow/service-runtime';

export interface UsersStreamOptions {
  /** 1 on a single server, 3 on a production cluster. */
  replicas: number;
  /** How long events are kept. */
  maxAgeMs: number;
  /**
   * How long JetStream remembers `Nats-Msg-Id`s. A republish of the same event within this window
   * is dropped as a duplicate; the outbox relay's retry horizon must fit inside it.
   */
  duplicateWindowMs: number;
}

/** The `USERS` stream: every user event, kept on disk, immune to deletes and purges. */
export function usersStreamConfig(options: UsersStreamOptions): StreamConfig {
  return {
    name: STREAMS.users,
    description: 'Every user event, published by the user-service outbox relay.',
    subjects: [SUBJECTS.users],
    storage: StorageType.File,
    num_replicas: options.replicas,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    max_age: nanos(options.maxAgeMs),
    duplicate_window: nanos(options.duplicateWindowMs),
    deny_delete: true,
    deny_purge: true,
    allow_direct: true,
  } as StreamConfig;
}

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
