import { v7 as uuidv7 } from 'uuid';
import { z } from 'zod';
import { EVENT_TYPES } from './names.js';

/** Limits shared by the HTTP API and the event, so an event never carries what the API refuses. */
export const USER_LIMITS = {
  emailMaxLength: 254,
  nameMaxLength: 100,
} as const;

/**
 * What counts as an email address, in the API and in the event alike: the HTML Living Standard's
 * "valid email address" (what a browser's `<input type=email>` accepts), a pattern that JSON Schema
 * tools and fuzzers can use as written.
 */
export const EMAIL_PATTERN: RegExp = z.regexes.html5Email;

/** Length in Unicode code points, which is what a person counts as characters (not UTF-16 units). */
export function codePointLength(text: string): number {
  return [...text].length;
}

export const userCreatedDataSchema = z.strictObject({
  userId: z.uuid(),
  email: z.email({ pattern: EMAIL_PATTERN }).max(USER_LIMITS.emailMaxLength),
  name: z
    .string()
    .min(1)
    .refine((name) => codePointLength(name) <= USER_LIMITS.nameMaxLength, {
      message: `must be at most ${USER_LIMITS.nameMaxLength} characters`,
    }),
  createdAt: z.iso.datetime({ offset: true }),
});

export type UserCreatedData = z.infer<typeof userCreatedDataSchema>;

/** A CloudEvents 1.0 event in structured JSON mode carrying UserCreated. */
export const userCreatedEventSchema = z.object({
  specversion: z.literal('1.0'),
  id: z.uuid(),
  source: z.string().min(1),
  type: z.literal(EVENT_TYPES.userCreated),
  time: z.iso.datetime({ offset: true }),
  subject: z.string().min(1),
  datacontenttype: z.literal('application/json'),
  data: userCreatedDataSchema,
});

export type UserCreatedEvent = z.infer<typeof userCreatedEventSchema>;

export interface NewUserCreatedEvent {
  /** URI-reference of the producer, e.g. `/user-service`. */
  source: string;
  data: UserCreatedData;
  /** Defaults to a fresh UUIDv7, so ids sort by creation time. */
  id?: string;
  /** Defaults to `data.createdAt`. */
  time?: string;
}

export function createUserCreatedEvent(event: NewUserCreatedEvent): UserCreatedEvent {
  return {
    specversion: '1.0',
    id: event.id ?? uuidv7(),
    source: event.source,
    type: EVENT_TYPES.userCreated,
    time: event.time ?? event.data.createdAt,
    subject: event.data.userId,
    datacontenttype: 'application/json',
    data: event.data,
  };
}
