export {
  checkNatsTlsPair,
  type NatsEnv,
  type NatsSettings,
  natsEnvShape,
  natsSettingsFromEnv,
} from './config.js';
export {
  isJetStreamApiError,
  isJetStreamUnavailable,
  isNoStreamForSubject,
  isNotFound,
  JETSTREAM_API_CODES,
  type JetStreamApiCode,
} from './jetstream-errors.js';
export {
  type NatsLink,
  type NatsLinkOptions,
  natsConnectionOptions,
  openNatsLink,
} from './link.js';
export { NATS_PERMISSIONS, type NatsPermissions } from './permissions.js';
export { ensureConsumer, ensureStream } from './streams.js';
