import { codePointLength, EMAIL_PATTERN, USER_LIMITS } from '@signup-flow/events';
import { z } from 'zod';

export const PASSWORD_LIMITS = { min: 12, max: 256 } as const;

const CONTROL = '\\u0000-\\u001f\\u007f-\\u009f';
const NO_CONTROL = `[^${CONTROL}]`;

const requiredString = () =>
  z.string({
    error: (issue) => (issue.input === undefined ? 'is required' : 'must be a string'),
  });

const email = () =>
  requiredString()
    .trim()
    .max(USER_LIMITS.emailMaxLength, `must be at most ${USER_LIMITS.emailMaxLength} characters`)
    .pipe(z.email({ pattern: EMAIL_PATTERN, error: 'must be a valid email address' }))
    // The document shows the input: the pipe's email check is otherwise lost from it.
    // (No `format: email`: tools read that as RFC 5321, which is not the rule applied here.)
    .meta({ pattern: EMAIL_PATTERN.source, maxLength: USER_LIMITS.emailMaxLength });

// Passwords are taken exactly as typed: never trimmed or normalised.
const password = (min: number) =>
  requiredString()
    .refine((value) => codePointLength(value) >= min, {
      message: `must be at least ${min} characters`,
    })
    .refine((value) => codePointLength(value) <= PASSWORD_LIMITS.max, {
      message: `must be at most ${PASSWORD_LIMITS.max} characters`,
    })
    // JSON Schema's lengths count code points, as these refinements do.
    .meta({ minLength: min, maxLength: PASSWORD_LIMITS.max });

const name = requiredString()
  .transform((value) => value.normalize('NFC').trim())
  .pipe(
    z
      .string()
      .refine((value) => value.length > 0, { message: 'must not be empty' })
      .refine((value) => codePointLength(value) <= USER_LIMITS.nameMaxLength, {
        message: `must be at most ${USER_LIMITS.nameMaxLength} characters`,
      })
      .refine((value) => !/\p{Cc}/u.test(value), {
        message: 'must not contain control characters',
      }),
  )
  .meta({
    description: 'NFC-normalised and trimmed; then 1 to 100 characters, no control characters',
    maxLength: USER_LIMITS.nameMaxLength,
    // Cc is U+0000 to U+001F and U+007F to U+009F: spelt out, as not every JSON Schema tool
    // knows \p{…} classes.
    pattern: `^${NO_CONTROL}*[^\\s${CONTROL}]${NO_CONTROL}*$`,
  });

export const signUpRequestSchema = z.strictObject({
  email: email(),
  password: password(PASSWORD_LIMITS.min),
  name,
});

export const logInRequestSchema = z.strictObject({
  email: email(),
  password: password(1),
});
