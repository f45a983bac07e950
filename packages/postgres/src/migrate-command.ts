import { env, loadConfig } from '@signup-flow/service-runtime';
import { z } from 'zod';
import { type MigrationList, migrateDatabase } from './migrations.js';

/**
 * The body of a service's stand-alone `migrate` command (the Helm hook Job runs it): reads
 * DATABASE_URL, applies what is pending, says what it did. Sets a failing exit code with one line
 * on stderr when it cannot.
 */
export async function runMigrateCommand(service: string, migrations: MigrationList): Promise<void> {
  try {
    const config = loadConfig(z.object({ DATABASE_URL: env.postgresUrl() }));
    const applied = await migrateDatabase(config.DATABASE_URL, service, migrations);
    console.log(applied.length ? `applied: ${applied.join(', ')}` : 'already up to date');
  } catch (error) {
    process.stderr.write(`${service} migrate: ${error instanceof Error ? error.message : error}\n`);
    process.exitCode = 1;
  }
}
