import { ConfigError } from './config.js';
import { createLogger, type Logger } from './logger.js';
import { safeOneLine } from './privacy.js';
import { exitOnSignal } from './shutdown.js';

/** How a service process ends, decided here once for every service. */
export const EXIT_STATUS = {
  /** Stopped by SIGTERM or SIGINT, everything closed in time. */
  stopped: 0,
  /** Could not start (a dependency refused, a file unreadable), or could not go on. */
  failed: 1,
  /** The environment does not satisfy the configuration schema: fix it, retrying will not help. */
  invalidConfiguration: 2,
} as const;

/** What a started service hands its entry point. */
export interface StartedService {
  /** Stops taking work, finishes or hands back what is in flight within `graceMs`, closes all. */
  stop(graceMs: number): Promise<void>;
  /** Resolves with the reason when the service cannot go on after starting; the process exits. */
  failure?: Promise<unknown>;
}

/** What `runMain` itself reads of a service's settings. */
export interface MainSettings {
  logLevel: string;
  /** The whole shutdown's budget; what the service may spend finishing work is 5 s less. */
  shutdownTimeoutMs: number;
}

export interface MainOptions<Settings extends MainSettings> {
  /** The service's name, the first word of every line it prints before its logger exists. */
  service: string;
  /** Reads and validates the environment; throws {@link ConfigError}. */
  settings(): Settings;
  start(settings: Settings, logger: Logger): Promise<StartedService>;
  /** After the service has stopped (e.g. flushing telemetry). */
  afterStop?(): Promise<void>;
}

/** Time kept back from the shutdown budget for closing connections and flushing telemetry. */
const CLOSE_MARGIN_MS = 5_000;

/**
 * A service's `main`: settings, logger, start, and a graceful stop on SIGTERM/SIGINT. What it
 * prints before exiting is one line, scrubbed of email addresses (driver errors can quote them, and
 * URLs with credentials are never part of a message), never a stack trace.
 */
export async function runMain<Settings extends MainSettings>(
  options: MainOptions<Settings>,
): Promise<void> {
  let settings: Settings;
  try {
    settings = options.settings();
  } catch (error) {
    const invalid = error instanceof ConfigError;
    process.stderr.write(`${options.service}: ${safeOneLine(reason(error))}\n`);
    process.exit(invalid ? EXIT_STATUS.invalidConfiguration : EXIT_STATUS.failed);
  }
  const logger = createLogger({ service: options.service, level: settings.logLevel });

  let service: StartedService;
  try {
    service = await options.start(settings, logger);
  } catch (error) {
    process.stderr.write(`${options.service}: failed to start: ${safeOneLine(reason(error))}\n`);
    process.exit(EXIT_STATUS.failed);
  }
  void service.failure?.then((error: unknown) => {
    logger.fatal({ err: error }, 'cannot go on');
    process.exit(EXIT_STATUS.failed);
  });

  const timeoutMs = settings.shutdownTimeoutMs;
  exitOnSignal(
    async () => {
      await service.stop(Math.max(1_000, timeoutMs - CLOSE_MARGIN_MS));
      await options.afterStop?.();
    },
    { logger, timeoutMs },
  );
}

function reason(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
