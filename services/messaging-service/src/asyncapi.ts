import {
  CLOUDEVENTS_CONTENT_TYPE,
  HEADERS,
  STREAMS,
  SUBJECTS,
  userCreatedEventSchema,
} from '@signup-flow/events';
import type { Middleware } from 'koa';
import { z } from 'zod';
import {
  DLQ_HEADERS,
  DLQ_REASONS,
  deadLetterSubject,
  REPLAYED_FROM_HEADER,
} from './messaging/dead-letters.js';
import { WELCOME_EMAIL_CONSUMER } from './messaging/jetstream.js';

/** AsyncAPI's default schema format is a superset of JSON Schema draft 7. */
function jsonSchema(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { target: 'draft-7' }) as Record<
    string,
    unknown
  >;
  return rest;
}

const text = (description: string, extra: Record<string, unknown> = {}) => ({
  type: 'string',
  description,
  ...extra,
});

const TRACE_HEADERS = {
  traceparent: text('W3C trace context of the signup request (the trace continues here)', {
    pattern: '^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$',
  }),
  tracestate: text('W3C trace state, when the request had one'),
};

/**
 * The AsyncAPI 3.0 document of the events: UserCreated on `users.created` (stream USERS), as the
 * user-service publishes it and this service consumes it, and the dead letters on
 * `dlq.users.created` (stream DLQ) with their headers. Its payload schema is the same zod schema
 * that decodes every event.
 */
export function asyncApiDocument() {
  const deadLetterChannel = deadLetterSubject(SUBJECTS.userCreated);
  return {
    asyncapi: '3.0.0',
    info: {
      title: 'signup-flow events',
      version: '1',
      description:
        'What travels over NATS JetStream between the user-service and the messaging-service.',
    },
    defaultContentType: CLOUDEVENTS_CONTENT_TYPE,
    channels: {
      userCreated: {
        address: SUBJECTS.userCreated,
        description: `Captured by the JetStream stream ${STREAMS.users} (subjects ${SUBJECTS.users}); de-duplicated by ${HEADERS.messageId}.`,
        messages: { userCreated: { $ref: '#/components/messages/UserCreated' } },
      },
      deadLetters: {
        address: deadLetterChannel,
        description: `Captured by the JetStream stream ${STREAMS.deadLetters}: messages the messaging-service gave up on, byte for byte, with why.`,
        messages: { deadLetter: { $ref: '#/components/messages/DeadLetter' } },
      },
    },
    operations: {
      publishUserCreated: {
        action: 'send',
        channel: { $ref: '#/channels/userCreated' },
        summary: 'The user-service’s outbox relay, once per committed signup',
        messages: [{ $ref: '#/channels/userCreated/messages/userCreated' }],
      },
      sendWelcomeEmail: {
        action: 'receive',
        channel: { $ref: '#/channels/userCreated' },
        summary: `The messaging-service, through the durable pull consumer ${WELCOME_EMAIL_CONSUMER}: one welcome email per event`,
        messages: [{ $ref: '#/channels/userCreated/messages/userCreated' }],
      },
      deadLetter: {
        action: 'send',
        channel: { $ref: '#/channels/deadLetters' },
        summary: 'The messaging-service, for an event it cannot decode or email',
        messages: [{ $ref: '#/channels/deadLetters/messages/deadLetter' }],
      },
    },
    components: {
      messages: {
        UserCreated: {
          name: 'UserCreated',
          title: 'A user signed up',
          contentType: CLOUDEVENTS_CONTENT_TYPE,
          headers: {
            type: 'object',
            properties: {
              [HEADERS.messageId]: text('The CloudEvent id: JetStream drops a second copy'),
              ...TRACE_HEADERS,
            },
            required: [HEADERS.messageId],
          },
          payload: jsonSchema(userCreatedEventSchema),
        },
        DeadLetter: {
          name: 'DeadLetter',
          title: 'A message given up on',
          headers: {
            type: 'object',
            description: 'The original message’s headers (but its Nats-* ones), and these:',
            properties: {
              [DLQ_HEADERS.reason]: text('Why', { enum: Object.values(DLQ_REASONS) }),
              [DLQ_HEADERS.detail]: text('Details, on one line, at most 500 characters', {
                maxLength: 500,
              }),
              [DLQ_HEADERS.attempts]: text('Attempts spent', { pattern: '^[0-9]+$' }),
              [DLQ_HEADERS.firstFailure]: text('When the first attempt failed', {
                format: 'date-time',
              }),
              [DLQ_HEADERS.lastFailure]: text('When the last attempt failed', {
                format: 'date-time',
              }),
              [DLQ_HEADERS.originalStream]: text('The stream it came from', {
                const: STREAMS.users,
              }),
              [DLQ_HEADERS.originalSubject]: text('The subject it came on'),
              [DLQ_HEADERS.originalSequence]: text('Its sequence in that stream', {
                pattern: '^[0-9]+$',
              }),
              [DLQ_HEADERS.originalMsgId]: text('Its Nats-Msg-Id, when it had one'),
              [DLQ_HEADERS.consumer]: text('The consumer that gave up', {
                const: WELCOME_EMAIL_CONSUMER,
              }),
              [REPLAYED_FROM_HEADER]: text(
                'On a copy republished by `npm run dlq -- replay`: the dead letter it came from',
              ),
              ...TRACE_HEADERS,
            },
            required: [
              DLQ_HEADERS.reason,
              DLQ_HEADERS.detail,
              DLQ_HEADERS.attempts,
              DLQ_HEADERS.firstFailure,
              DLQ_HEADERS.lastFailure,
              DLQ_HEADERS.originalStream,
              DLQ_HEADERS.originalSubject,
              DLQ_HEADERS.originalSequence,
              DLQ_HEADERS.consumer,
            ],
          },
          payload: {
            description: 'The original message’s body, unchanged (it may not be valid JSON)',
          },
        },
      },
    },
  };
}

const SERVED_DOCUMENT = JSON.stringify(asyncApiDocument());

/** `GET /asyncapi.json`: the document above (it never changes while the process runs). */
export const asyncApiEndpoint: Middleware = async (ctx, next) => {
  if (ctx.path !== '/asyncapi.json') return next();
  if (ctx.method !== 'GET' && ctx.method !== 'HEAD') {
    ctx.status = 405;
    ctx.set('Allow', 'GET, HEAD');
    return;
  }
  ctx.type = 'application/json';
  ctx.body = SERVED_DOCUMENT;
};
