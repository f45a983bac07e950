/**
 * Applies the messaging-service's pending migrations and exits: `npm run migrate -w
 * @signup-flow/messaging-service` (reads DATABASE_URL); the Helm hook Job runs it too.
 */
import { runMigrateCommand } from '@signup-flow/postgres';
import { MIGRATIONS } from '../data/migrations.js';

await runMigrateCommand('messaging-service', MIGRATIONS);
