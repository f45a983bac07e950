/** Applies the user-service's pending migrations and exits (the Helm hook Job runs this). */
import { ConfigError, env, loadConfig } from '@signup-flow/service-runtime';
import { z } from 'zod';
import { createDatabase, migrate } from './data/database.js';

try {
  const config = loadConfig(z.object({ DATABASE_URL: env.postgresUrl() }));
  const db = createDatabase({
    url: config.DATABASE_URL,
    poolMax: 1,
    applicationName: 'user-service migrate',
  });
  try {
    const applied = await migrate(db);
    console.log(applied.length ? `applied: ${applied.join(', ')}` : 'already up to date');
  } finally {
    await db.destroy();
  }
} catch (error) {
  const message =
    error instanceof ConfigError || error instanceof Error ? error.message : String(error);
  process.stderr.write(`user-service migrate: ${message}\n`);
  process.exitCode = 1;
}
