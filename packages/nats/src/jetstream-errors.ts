import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import { errors, RequestError } from '@nats-io/nats-core';

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
  /** A cluster without a JetStream leader for the moment: "JetStream system temporarily unavailable". */
  ClusterNotAvailable: 10008,
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
  return (
    isJetStreamApiError(error, JETSTREAM_API_CODES.StreamNotFound) || isNoRespondersReply(error)
  );
}

/** nats.js's JetStream error for a request nothing answered: JetStream not enabled, by its name. */
function isNoRespondersReply(error: unknown): boolean {
  const cause = error instanceof Error ? error.cause : undefined;
  return cause instanceof RequestError && cause.isNoResponders();
}

/**
 * JetStream did not answer, for now: the request timed out (a node lost, a leader election, a
 * reconnect), no server answered it ("no responders", which nats.js reports as JetStream not
 * enabled), or the cluster has no leader yet. Worth trying again; a refusal or a bad configuration
 * is not.
 */
export function isJetStreamUnavailable(error: unknown): boolean {
  return (
    error instanceof errors.TimeoutError ||
    isNoRespondersReply(error) ||
    isJetStreamApiError(error, JETSTREAM_API_CODES.ClusterNotAvailable)
  );
}
