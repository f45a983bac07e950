import {
  DiscardPolicy,
  type JetStreamManager,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
  type StreamInfo,
} from '@nats-io/jetstream';
import { nanos } from '@nats-io/nats-core';
import { STREAMS, SUBJECTS } from '@signup-flow/events';

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

/**
 * True for a JetStream publish that no stream took: nothing answers on a subject no stream holds,
 * which nats.js reports as JetStream not being enabled (a "no responders" reply). Both services
 * recreate the stream they own on it (USERS, DLQ).
 */
export function isNoStreamForSubject(error: unknown): boolean {
  const text = error instanceof Error ? `${error.name} ${error.message}` : String(error);
  return /JetStreamNotEnabled|NoResponders|no responders|StreamNotFound/i.test(text);
}

function isStreamNotFound(error: unknown): boolean {
  return error instanceof Error && error.name === 'StreamNotFoundError';
}

/** Creates the stream, or updates it to `config` if it exists. Safe to run from every replica. */
export async function ensureStream(
  manager: JetStreamManager,
  config: StreamConfig,
): Promise<StreamInfo> {
  try {
    await manager.streams.info(config.name);
  } catch (error) {
    if (!isStreamNotFound(error)) throw error;
    try {
      return await manager.streams.add(config);
    } catch (addError) {
      // Another replica created it between our look-up and our add: fall through to update.
      if (!/already in use/i.test(String(addError))) throw addError;
    }
  }
  return manager.streams.update(config.name, config);
}
