import { codePointLength, USER_LIMITS } from '@signup-flow/events';
import { z } from 'zod';

export const PASSWORD_LIMITS = { min: 12, max: 256 } as const;

const requiredString = () =>
  z.string({
    error: (issue) => (issue.input === undefined ? 'is required' : 'must be a string'),
  });

const email = () =>
  requiredString()
    .trim()
    .max(USER_LIMITS.emailMaxLength, `must be at most ${USER_LIMITS.emailMaxLength} characters`)
    .pipe(z.email({ error: 'must be a valid email address' }))
    // The document shows the input: the pipe's email check is otherwise lost from it.
    .meta({ format: 'email', maxLength: USER_LIMITS.emailMaxLength });

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
    pattern: '^[^\\p{Cc}]*\\S[^\\p{Cc}]*$',
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
