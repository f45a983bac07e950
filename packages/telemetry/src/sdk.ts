import { NodeSDK } from '@opentelemetry/sdk-node';
import { serviceInstrumentations } from './instrumentations.js';
import {
  isTelemetryDisabled,
  recordRunningTelemetry,
  runningTelemetry,
  shutdownTelemetry,
} from './lifecycle.js';
import { resourceDetectors } from './resource.js';

/**
 * A NodeSDK configured only by the standard `OTEL_*` variables: exporter and protocol
 * (`OTEL_TRACES_EXPORTER`, `OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL`, default `http/protobuf`),
 * endpoint, headers, sampler, propagators, batching and limits are all read by the SDK itself.
 *
 * One departure from the SDK's defaults: metrics and logs are not exported over OTLP unless
 * `OTEL_METRICS_EXPORTER` / `OTEL_LOGS_EXPORTER` ask for it. The services expose metrics to
 * Prometheus and write logs to stdout, and a trace-only backend (Jaeger) rejects other signals.
 */
export function createTelemetrySdk(): NodeSDK {
  return new NodeSDK({
    instrumentations: serviceInstrumentations(),
    resourceDetectors: resourceDetectors(),
    ...(process.env.OTEL_METRICS_EXPORTER ? {} : { metricReaders: [] }),
    ...(process.env.OTEL_LOGS_EXPORTER ? {} : { logRecordProcessors: [] }),
  });
}

/** Starts the SDK once per process. Returns false when it is disabled or already running. */
export function startTelemetry(): boolean {
  if (isTelemetryDisabled() || runningTelemetry()) return false;
  const sdk = createTelemetrySdk();
  sdk.start();
  recordRunningTelemetry(sdk);
  // A process that simply runs out of work (a script, a test) flushes too. Services exit through
  // their own signal handling and await shutdownTelemetry() there: process.exit() skips
  // `beforeExit`. No SIGTERM handler here, so as not to race the service's own.
  process.once('beforeExit', () => void shutdownTelemetry());
  return true;
}
