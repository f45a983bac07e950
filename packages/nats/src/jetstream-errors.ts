import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import { RequestError } from '@nats-io/nats-core';

/**
 * The JetStream API error codes this project acts on (nats-server's `err_code`): nats.js's own
 * list, and the two an add answers when another replica created the same thing first.
 */
export const JETSTREAM_API_CODES = {
  ...JetStreamApiCodes,
  /** `streams.add` of a name in use with another configuration. */
  StreamNameInUse: 10058,
  /** `consumers.add` of a durable that exists with another configuration. */
  ConsumerAlreadyExists: 10148,
} as const;

export type JetStreamApiCode = (typeof JETSTREAM_API_CODES)[keyof typeof JETSTREAM_API_CODES];

/** True for the JetStream API's answer with one of `codes`; false for anything else. */
export function isJetStreamApiError(error: unknown, ...codes: JetStreamApiCode[]): boolean {
  return error instanceof JetStreamApiError && codes.includes(error.code as JetStreamApiCode);
}

/** The stream, or the consumer (or the stream it is on), does not exist. */
export function isNotFound(error: unknown): boolean {
  return isJetStreamApiError(
    error,
    JETSTREAM_API_CODES.StreamNotFound,
    JETSTREAM_API_CODES.ConsumerNotFound,
  );
}

/**
 * True for a JetStream publish that no stream took: nothing answers on a subject no stream holds,
 * which nats.js reports as JetStream not being enabled, caused by a "no responders" reply. Both
 * services recreate the stream they own on it (USERS, DLQ).
 */
export function isNoStreamForSubject(error: unknown): boolean {
  if (isJetStreamApiError(error, JETSTREAM_API_CODES.StreamNotFound)) return true;
  const cause = error instanceof Error ? error.cause : undefined;
  return cause instanceof RequestError && cause.isNoResponders();
}
