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
    .pipe(z.email({ error: 'must be a valid email address' }));

// Passwords are taken exactly as typed: never trimmed or normalised.
const password = (min: number) =>
  requiredString()
    .refine((value) => codePointLength(value) >= min, {
      message: `must be at least ${min} characters`,
    })
    .refine((value) => codePointLength(value) <= PASSWORD_LIMITS.max, {
      message: `must be at most ${PASSWORD_LIMITS.max} characters`,
    });

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
  );

export const signUpRequestSchema = z.strictObject({
  email: email(),
  password: password(PASSWORD_LIMITS.min),
  name,
});

export const logInRequestSchema = z.strictObject({
  email: email(),
  password: password(1),
});
