import type { MigrationList } from '@signup-flow/postgres';
import * as createDeliveries from './migrations/001-create-deliveries.js';

/** The messaging-service's schema, in order. */
export const MIGRATIONS: MigrationList = [['001-create-deliveries', createDeliveries]];
