/*
 * The `node --import @signup-flow/telemetry/register` entry: runs before the application's first
 * import, so every module it loads afterwards can be instrumented.
 */
import { register } from 'node:module';
import { isMainThread } from 'node:worker_threads';
import { createAddHookMessageChannel } from 'import-in-the-middle';
import {
  register as registerInThread,
  supportsSyncHooks,
} from 'import-in-the-middle/register-hooks.mjs';
import { HOOKED_MODULES } from './hooked-modules.js';
import { isTelemetryDisabled } from './lifecycle.js';

// ESM imports are only patched through a loader hook. Where Node allows it (24.11.1 and later) the
// hook runs in the application's own thread and wraps the modules the instrumentations patch;
// elsewhere it runs on a loader thread of its own, a second V8 isolate (some 23 MiB resident),
// told through a message channel which modules to wrap.
if (isMainThread && !isTelemetryDisabled()) {
  if (supportsSyncHooks()) {
    // Before the SDK loads: an instrumentation's hook added earlier would never take.
    registerInThread({ include: [...HOOKED_MODULES] });
    const { startTelemetry } = await import('./sdk.js');
    startTelemetry();
  } else {
    // The SDK is loaded before this hook, so its own imports are not wrapped.
    const { startTelemetry } = await import('./sdk.js');
    const { registerOptions, waitForAllMessagesAcknowledged } = createAddHookMessageChannel();
    register('@opentelemetry/instrumentation/hook.mjs', import.meta.url, registerOptions);
    startTelemetry();
    // The application must not import anything before the loader knows what to wrap.
    await waitForAllMessagesAcknowledged();
  }
}
