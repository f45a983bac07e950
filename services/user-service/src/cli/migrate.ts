/**
 * Applies the user-service's pending migrations and exits: `npm run migrate -w
 * @signup-flow/user-service` (reads DATABASE_URL); the Helm hook Job runs it too.
 */
import { runMigrateCommand } from '@signup-flow/postgres';
import { MIGRATIONS } from '../data/migrations.js';

await runMigrateCommand('user-service', MIGRATIONS);
