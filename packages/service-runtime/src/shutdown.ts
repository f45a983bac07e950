import type { Logger } from 'pino';

export interface ShutdownOptions {
  logger: Logger;
  /** Past this, the process exits with status 1 even if shutdown has not finished. */
  timeoutMs: number;
}

/**
 * Runs `shutdown` once on the first SIGTERM or SIGINT, then exits 0 (or 1 if it failed or overran
 * its time). This is the one place a service decides to exit.
 */
export function exitOnSignal(
  shutdown: (signal: NodeJS.Signals) => Promise<void>,
  options: ShutdownOptions,
): void {
  let started = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (started) return;
    started = true;
    options.logger.info({ signal }, 'shutting down');
    const overrun = setTimeout(() => {
      options.logger.error({ timeoutMs: options.timeoutMs }, 'shutdown took too long, exiting');
      process.exit(1);
    }, options.timeoutMs);
    overrun.unref();
    shutdown(signal).then(
      () => {
        options.logger.info('shut down cleanly');
        process.exit(0);
      },
      (error: unknown) => {
        options.logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
