export { isTelemetryDisabled, shutdownTelemetry } from './lifecycle.js';
