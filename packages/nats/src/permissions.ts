import { CONSUMERS, STREAMS, SUBJECTS } from '@signup-flow/events';

/** One NATS user's permissions, as nats-server's `authorization.users[].permissions` takes them. */
export interface NatsPermissions {
  publish: { allow: string[] };
  subscribe: { allow: string[] };
}

const CONSUMER = CONSUMERS.welcomeEmail;
const api = (...parts: string[]) => `$JS.API.${parts.join('.')}`;
/** Replies to requests (JetStream API answers, PubAcks, pulled messages) come on inboxes. */
const INBOXES = '_INBOX.>';

/**
 * Least privilege: what each service does on NATS, and nothing else. The local stack, the tests and
 * `k8s/nats/values.yaml` give each service's user exactly these, so a missing one fails a test.
 */
export const NATS_PERMISSIONS = {
  'user-service': {
    publish: {
      allow: [
        SUBJECTS.userCreated,
        api('INFO'),
        // Provisioning its stream: look it up, create it, bring its settings up to date.
        api('STREAM', 'INFO', STREAMS.users),
        api('STREAM', 'CREATE', STREAMS.users),
        api('STREAM', 'UPDATE', STREAMS.users),
      ],
    },
    subscribe: { allow: [INBOXES] },
  },
  'messaging-service': {
    publish: {
      allow: [
        api('INFO'),
        api('STREAM', 'INFO', STREAMS.users),
        // Its durable consumer on USERS: create or update it, read its state, pull and settle.
        api('CONSUMER', 'CREATE', STREAMS.users, CONSUMER, '>'),
        api('CONSUMER', 'INFO', STREAMS.users, CONSUMER),
        api('CONSUMER', 'MSG', 'NEXT', STREAMS.users, CONSUMER),
        `$JS.ACK.${STREAMS.users}.${CONSUMER}.>`,
        // The DLQ stream it owns, and its dead letters.
        api('STREAM', 'INFO', STREAMS.deadLetters),
        api('STREAM', 'CREATE', STREAMS.deadLetters),
        api('STREAM', 'UPDATE', STREAMS.deadLetters),
        `${SUBJECTS.deadLetterPrefix}.>`,
      ],
    },
    subscribe: { allow: [INBOXES] },
  },
} as const satisfies Record<string, NatsPermissions>;
