/*
 * The `node --import @signup-flow/telemetry/register` entry: runs before the application's first
 * import, so every module it loads afterwards can be instrumented.
 */
import { register } from 'node:module';
import { isMainThread } from 'node:worker_threads';
import { createAddHookMessageChannel } from 'import-in-the-middle';
import { isTelemetryDisabled } from './lifecycle.js';

if (isMainThread && !isTelemetryDisabled()) {
  // Loaded only when enabled, so OTEL_SDK_DISABLED=true costs no start-up time; and loaded before
  // the hook is registered, so the SDK's own imports are not wrapped.
  const { startTelemetry } = await import('./sdk.js');
  // ESM imports are only patched through a loader hook; OpenTelemetry supports its own re-export
  // of import-in-the-middle's. The message channel tells the loader which modules the
  // instrumentations hook, so only those are wrapped rather than every module of the application.
  const { registerOptions, waitForAllMessagesAcknowledged } = createAddHookMessageChannel();
  register('@opentelemetry/instrumentation/hook.mjs', import.meta.url, registerOptions);
  startTelemetry();
  // The application must not import anything before the loader knows what to wrap.
  await waitForAllMessagesAcknowledged();
}
