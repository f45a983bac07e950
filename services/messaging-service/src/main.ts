/**
 * Composition root of the messaging-service: reads the configuration once, starts the service and
 * decides what is fatal.
 */
import { natsSettingsFromEnv } from '@signup-flow/nats';
import { ConfigError, createLogger, exitOnSignal, loadConfig } from '@signup-flow/service-runtime';
import { shutdownTelemetry } from '@signup-flow/telemetry';
import { type Config, configSchema, settingsFromConfig } from './config.js';
import { safeOneLine } from './privacy.js';
import { SERVICE_NAME, startMessagingService } from './service.js';

let config: Config;
try {
  config = loadConfig(configSchema);
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(`${SERVICE_NAME}: ${error.message}`);
  process.exit(2);
}
const settings = settingsFromConfig(config);
const logger = createLogger({ service: SERVICE_NAME, level: settings.logLevel });
for (const variable of settings.defaulted) {
  logger.warn(
    { variable, value: variable === 'SMTP_URL' ? settings.smtpUrl : settings.mailFrom },
    `${variable} is not set; using the local development default`,
  );
}

let service: Awaited<ReturnType<typeof startMessagingService>>;
try {
  service = await startMessagingService(settings, natsSettingsFromEnv(config), logger);
} catch (error) {
  // One line, never a stack trace: driver errors can quote URLs with credentials in them.
  const reason = error instanceof Error ? error.message : String(error);
  console.error(`${SERVICE_NAME}: failed to start: ${safeOneLine(reason)}`);
  process.exit(1);
}
service.consuming.catch((error: unknown) => {
  if (error instanceof Error && error.name === 'AbortError') return;
  logger.fatal({ err: error }, 'cannot set up the JetStream consumer');
  process.exit(1);
});

// Leave the last seconds of the shutdown budget for closing connections.
exitOnSignal(
  async () => {
    await service.stop(Math.max(1_000, settings.shutdownTimeoutMs - 5_000));
    await shutdownTelemetry();
  },
  { logger, timeoutMs: settings.shutdownTimeoutMs },
);
