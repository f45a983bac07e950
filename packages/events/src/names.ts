/** JetStream stream names. */
export const STREAMS = {
  users: 'USERS',
  deadLetters: 'DLQ',
} as const;

/** Durable JetStream consumers, by what they do. */
export const CONSUMERS = {
  /** The messaging-service's, on USERS: one welcome email per UserCreated. */
  welcomeEmail: 'messaging-service-welcome-email',
} as const;

/** Subjects events are published on. */
export const SUBJECTS = {
  userCreated: 'users.created',
  /** Everything the USERS stream captures. */
  users: 'users.>',
  /** Dead letters are published as `dlq.<original subject>`. */
  deadLetterPrefix: 'dlq',
} as const;

/** CloudEvents `type` values. The version suffix changes only on a breaking change of `data`. */
export const EVENT_TYPES = {
  userCreated: 'io.signup-flow.user.created.v1',
} as const;

export type EventType = (typeof EVENT_TYPES)[keyof typeof EVENT_TYPES];

/** NATS header names used on the wire. */
export const HEADERS = {
  /** JetStream de-duplication key; always the CloudEvent `id`. */
  messageId: 'Nats-Msg-Id',
  contentType: 'Content-Type',
} as const;

export const CLOUDEVENTS_CONTENT_TYPE = 'application/cloudevents+json; charset=utf-8';
