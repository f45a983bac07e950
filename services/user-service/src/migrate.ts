/** Applies the user-service's pending migrations and exits (the Helm hook Job runs this). */
import { runMigrateCommand } from '@signup-flow/postgres';
import { MIGRATIONS } from './data/migrations.js';

await runMigrateCommand('user-service', MIGRATIONS);
