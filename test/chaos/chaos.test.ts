import { describe, expect, it } from 'vitest';
import { formatFigures, PROFILES, runChaos } from './fault-injection.js';

/** `npm run chaos` runs the full profile; `npm test` the short one. */
const profileName = process.env.CHAOS_PROFILE === 'full' ? 'full' : 'short';
const profile = PROFILES[profileName];
/** The messaging-service's SEND_CONCURRENCY: a SIGKILL can cut at most this many sends. */
const SEND_CONCURRENCY = 16;

describe(`fault injection (${profileName} run)`, () => {
  it(
    'when every process kind is killed, a NATS node and PostgreSQL are lost and the mail server is away and slow under signup load, then nothing acknowledged is lost, nothing is dead-lettered and duplicates stay in the documented window',
    async () => {
      const figures = await runChaos(profile);
      console.log(`\nfault injection, ${profileName} run\n${formatFigures(figures)}\n`);

      expect(figures.signupsAcknowledged).toBeGreaterThan(0);
      expect(figures.faults).toHaveLength(7);
      expect(figures.usersLost).toBe(0);
      expect(figures.emailsLost).toBe(0);
      expect(figures.deadLetters).toBe(0);
      // The only duplicates left: a messaging-service killed between the server's 250 and the
      // ledger write (README "The two duplicate windows"); the slow server answers within the
      // reply timeout, so it causes none.
      expect(figures.duplicates).toBeLessThanOrEqual(figures.messagingKills * SEND_CONCURRENCY);
    },
    profile.settleTimeoutMs + 240_000,
  );
});
