export {
  checkNatsTlsPair,
  type NatsEnv,
  type NatsSettings,
  natsEnvShape,
  natsSettingsFromEnv,
} from './config.js';
export {
  type NatsLink,
  type NatsLinkOptions,
  natsConnectionOptions,
  openNatsLink,
} from './link.js';
export { NATS_PERMISSIONS, type NatsPermissions } from './permissions.js';
export {
  ensureStream,
  isNoStreamForSubject,
  type UsersStreamOptions,
  usersStreamConfig,
} from './streams.js';
