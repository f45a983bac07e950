/** The user-service process: settings from the environment, then the service until SIGTERM. */
import { runMain } from '@signup-flow/service-runtime';
import { shutdownTelemetry } from '@signup-flow/telemetry';
import { loadSettings } from './config.js';
import { SERVICE_NAME, startUserService } from './service.js';

await runMain({
  service: SERVICE_NAME,
  settings: () => loadSettings(),
  start: startUserService,
  afterStop: shutdownTelemetry,
});
