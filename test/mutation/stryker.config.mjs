// @ts-check
/**
 * Mutation testing of the modules that carry the guarantees: `npm run mutate` (README "Mutation
 * testing"). Not part of `npm test`: it runs the tests once per mutant.
 * @type {import('@stryker-mutator/api/core').PartialStrykerOptions}
 */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'test/mutation/vitest.config.ts', related: false },
  checkers: ['typescript'],
  tsconfigFile: 'tsconfig.json',
  typescriptChecker: { prioritizePerformanceOverAccuracy: true },
  coverageAnalysis: 'perTest',
  mutate: (
    process.env.MUTATE ??
    [
      'services/user-service/src/domain/sign-up.ts',
      'services/user-service/src/data/user-store.ts',
      'services/user-service/src/data/outbox-repository.ts',
      'services/user-service/src/outbox/relay.ts',
      'services/messaging-service/src/data/delivery-ledger.ts',
      'services/messaging-service/src/messaging/user-created-handler.ts',
      'services/messaging-service/src/domain/send-welcome-email.ts',
      'packages/events/src/user-created.ts',
      'packages/events/src/decode.ts',
      'packages/instrumentation-nats/src/publish.ts',
      'packages/instrumentation-nats/src/process.ts',
    ].join(',')
  ).split(','),
  // dist/ is copied: the DLQ CLI and other packages are used built.
  ignorePatterns: ['.tools', '.local', 'coverage', 'reports'],
  reporters: ['clear-text', 'progress', 'json'],
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  clearTextReporter: { allowColor: false, logTests: false },
  concurrency: 2,
  timeoutMS: 30_000,
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
};
