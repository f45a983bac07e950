import { z } from 'zod';
import { EVENT_TYPES, type EventType } from './names.js';
import { type UserCreatedEvent, userCreatedEventSchema } from './user-created.js';

/** Why a message could not be turned into a known event. Each reason is final: retrying cannot help. */
export const DECODE_FAILURES = {
  notJson: 'not-json',
  notCloudEvent: 'not-cloudevent',
  unknownType: 'unknown-type',
  invalidEvent: 'invalid-event',
} as const;

export type DecodeFailure = (typeof DECODE_FAILURES)[keyof typeof DECODE_FAILURES];

export type DecodeResult =
  | { ok: true; event: UserCreatedEvent }
  | { ok: false; reason: DecodeFailure; detail: string };

const envelopeSchema = z.object({ specversion: z.literal('1.0'), type: z.string() });

const schemasByType: { [T in EventType]: z.ZodType<UserCreatedEvent> } = {
  [EVENT_TYPES.userCreated]: userCreatedEventSchema,
};

function isKnownType(type: string): type is EventType {
  return Object.hasOwn(schemasByType, type);
}

function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`)
    .join('; ');
}

/** Decodes a message body into a known event, or says precisely why it cannot. */
export function decodeEvent(body: Uint8Array): DecodeResult {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body));
  } catch (error) {
    return { ok: false, reason: DECODE_FAILURES.notJson, detail: String(error) };
  }
  const envelope = envelopeSchema.safeParse(json);
  if (!envelope.success) {
    return {
      ok: false,
      reason: DECODE_FAILURES.notCloudEvent,
      detail: describeIssues(envelope.error),
    };
  }
  if (!isKnownType(envelope.data.type)) {
    return {
      ok: false,
      reason: DECODE_FAILURES.unknownType,
      detail: `unknown event type ${JSON.stringify(envelope.data.type)}`,
    };
  }
  const event = schemasByType[envelope.data.type].safeParse(json);
  if (!event.success) {
    return { ok: false, reason: DECODE_FAILURES.invalidEvent, detail: describeIssues(event.error) };
  }
  return { ok: true, event: event.data };
}

export function encodeEvent(event: UserCreatedEvent): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(event));
}
