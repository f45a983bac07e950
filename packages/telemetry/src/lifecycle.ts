import { diag } from '@opentelemetry/api';
import { getBooleanFromEnv } from '@opentelemetry/core';
import type { NodeSDK } from '@opentelemetry/sdk-node';

/** Whether `OTEL_SDK_DISABLED` turns the SDK off, as the specification defines it. */
export function isTelemetryDisabled(): boolean {
  return getBooleanFromEnv('OTEL_SDK_DISABLED') === true;
}

interface RunningTelemetry {
  sdk: NodeSDK;
  shutdown: Promise<void> | null;
}

// Kept on globalThis so that two copies of this module (a second install, a bundler) still find
// the one SDK that was started.
const RUNNING = Symbol.for('@signup-flow/telemetry/running');
const registry = globalThis as typeof globalThis & { [RUNNING]?: RunningTelemetry };

export function runningTelemetry(): RunningTelemetry | undefined {
  return registry[RUNNING];
}

export function recordRunningTelemetry(sdk: NodeSDK): void {
  registry[RUNNING] = { sdk, shutdown: null };
}

/**
 * Flushes the spans still buffered and stops the SDK; later calls return the same promise. A
 * no-op when telemetry is disabled or was never started. Export failures go to the OpenTelemetry
 * diagnostic logger and are never thrown: telemetry must not make a clean shutdown fail.
 */
export function shutdownTelemetry(): Promise<void> {
  const running = registry[RUNNING];
  if (!running) return Promise.resolve();
  running.shutdown ??= running.sdk.shutdown().catch((error: unknown) => {
    diag.error('@signup-flow/telemetry: shutting down the OpenTelemetry SDK failed', error);
  });
  return running.shutdown;
}
