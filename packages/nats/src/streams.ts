import type {
  ConsumerConfig,
  ConsumerInfo,
  JetStreamManager,
  StreamConfig,
  StreamInfo,
} from '@nats-io/jetstream';
import { isJetStreamApiError, isNotFound, JETSTREAM_API_CODES } from './jetstream-errors.js';

/** Creates the stream, or updates it to `config` if it exists. Safe to run from every replica. */
export async function ensureStream(
  manager: JetStreamManager,
  config: StreamConfig,
): Promise<StreamInfo> {
  try {
    await manager.streams.info(config.name);
  } catch (error) {
    if (!isNotFound(error)) throw error;
    try {
      return await manager.streams.add(config);
    } catch (addError) {
      // Another replica created it between our look-up and our add: fall through to update.
      if (!isJetStreamApiError(addError, JETSTREAM_API_CODES.StreamNameInUse)) throw addError;
    }
  }
  return manager.streams.update(config.name, config);
}

/** Creates the durable consumer, or updates it to `config` if it exists; safe from every replica. */
export async function ensureConsumer(
  manager: JetStreamManager,
  stream: string,
  config: ConsumerConfig,
): Promise<ConsumerInfo> {
  const name = config.durable_name ?? '';
  try {
    await manager.consumers.info(stream, name);
  } catch (error) {
    if (!isNotFound(error)) throw error;
    try {
      return await manager.consumers.add(stream, config);
    } catch (addError) {
      if (!isJetStreamApiError(addError, JETSTREAM_API_CODES.ConsumerAlreadyExists)) throw addError;
    }
  }
  return manager.consumers.update(stream, name, config);
}
