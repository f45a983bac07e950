import type { MigrationList } from '@signup-flow/postgres';
import * as createDeliveries from './migrations/001-create-deliveries.js';
import * as fencedClaims from './migrations/002-fenced-claims.js';

/** The messaging-service's schema, in order. */
export const MIGRATIONS: MigrationList = [
  ['001-create-deliveries', createDeliveries],
  ['002-fenced-claims', fencedClaims],
];
