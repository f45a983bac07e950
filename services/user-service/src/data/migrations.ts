import type { MigrationList } from '@signup-flow/postgres';
import * as usersAndOutbox from './migrations/001-users-and-outbox.js';
import * as loginFailures from './migrations/002-login-failures.js';
import * as outboxHandOff from './migrations/003-outbox-hand-off.js';

/** The user-service's schema, in order. */
export const MIGRATIONS: MigrationList = [
  ['001-users-and-outbox', usersAndOutbox],
  ['002-login-failures', loginFailures],
  ['003-outbox-hand-off', outboxHandOff],
];
