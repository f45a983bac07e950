import { isSpanContextValid, trace } from '@opentelemetry/api';
import { type Logger, pino } from 'pino';

export type { Logger } from 'pino';

/**
 * Keys that may carry personal data or secrets. They are censored wherever they appear in a
 * logged object (top level or one level down), so a careless `log.info({ user })` stays safe.
 */
const REDACTED_KEYS = ['password', 'email', 'authorization', 'token', 'cookie', 'passwordHash'];

export interface LoggerOptions {
  service: string;
  level: string;
  /** Defaults to stdout. */
  destination?: NodeJS.WritableStream;
}

/** A JSON logger whose lines carry the active span's `trace_id` and `span_id`. */
export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      name: options.service,
      level: options.level,
      base: { service: options.service },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: {
        paths: REDACTED_KEYS.flatMap((key) => [key, `*.${key}`, `*.headers.${key}`]),
        censor: '[redacted]',
      },
      mixin() {
        const spanContext = trace.getActiveSpan()?.spanContext();
        if (!spanContext || !isSpanContextValid(spanContext)) return {};
        return { trace_id: spanContext.traceId, span_id: spanContext.spanId };
      },
    },
    options.destination ?? process.stdout,
  );
}
