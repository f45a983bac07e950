import { defineConfig } from 'vitest/config';

/**
 * The tests Stryker runs against each mutant (`npm run mutate`): the ones that carry the
 * guarantees of the mutated modules and run in-process in seconds. The process tests (a built
 * `dist/` that Stryker does not mutate) and the minute-long failure-model and chaos suites stay in
 * `npm test`.
 */
export default defineConfig({
  test: {
    include: [
      'services/user-service/test/api.test.ts',
      'services/user-service/test/outbox-guarantees.test.ts',
      'services/user-service/test/outbox.test.ts',
      'services/messaging-service/src/**/*.test.ts',
      'services/messaging-service/test/failures.test.ts',
      'services/messaging-service/test/welcome-email.test.ts',
      'packages/events/src/**/*.test.ts',
      'packages/instrumentation-nats/src/**/*.test.ts',
    ],
    globalSetup: ['packages/testing/src/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    maxWorkers: 2,
  },
});
