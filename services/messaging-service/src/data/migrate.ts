/**
 * Applies the messaging-service's pending migrations and exits: `npm run migrate -w
 * @signup-flow/messaging-service` (reads DATABASE_URL).
 */
import { env, loadConfig } from '@signup-flow/service-runtime';
import { z } from 'zod';
import { createDatabase } from './database.js';
import { migrateToLatest } from './migrations.js';

try {
  const config = loadConfig(z.object({ DATABASE_URL: env.postgresUrl() }));
  const db = createDatabase({ url: config.DATABASE_URL, poolSize: 2 });
  try {
    const applied = await migrateToLatest(db);
    console.log(applied.length ? `applied: ${applied.join(', ')}` : 'already up to date');
  } finally {
    await db.destroy();
  }
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  process.exitCode = 1;
}
