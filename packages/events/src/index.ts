export {
  DECODE_FAILURES,
  type DecodeFailure,
  type DecodeResult,
  decodeEvent,
  encodeEvent,
} from './decode.js';
export {
  CLOUDEVENTS_CONTENT_TYPE,
  CONSUMERS,
  EVENT_TYPES,
  type EventType,
  HEADERS,
  STREAMS,
  SUBJECTS,
} from './names.js';
export {
  codePointLength,
  createUserCreatedEvent,
  EMAIL_PATTERN,
  type NewUserCreatedEvent,
  USER_LIMITS,
  type UserCreatedData,
  type UserCreatedEvent,
  userCreatedDataSchema,
  userCreatedEventSchema,
} from './user-created.js';
