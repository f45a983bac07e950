export { createDatabase, type DatabaseOptions, isReachable } from './database.js';
export { runMigrateCommand } from './migrate-command.js';
export {
  type Migration,
  type MigrationList,
  migrateDatabase,
  migrateToLatest,
} from './migrations.js';
