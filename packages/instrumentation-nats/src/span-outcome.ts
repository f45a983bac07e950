import { diag, type Span, SpanStatusCode } from '@opentelemetry/api';
import { ATTR_ERROR_TYPE, ERROR_TYPE_VALUE_OTHER } from './semconv.js';

// Error texts can carry personal data (an SMTP server rejecting `<someone@example.com>`), and
// exception events end up in the trace store like attributes. Anything shaped like an address
// goes, a dotless domain (`ada@localhost`) included: the same rule as the messaging-service's logs.
const EMAIL_ADDRESS = /[^\s<>@"',;:()[\]]+@[^\s<>@"',;:()[\]]+/g;

export function redactEmailAddresses(text: string): string {
  return text.replace(EMAIL_ADDRESS, '[email]');
}

/**
 * Marks the span failed the way the conventions ask: `error.type` (the error's class name, a
 * low-cardinality value), status ERROR, and an exception event, with email addresses removed.
 */
export function recordFailure(span: Span, error: unknown): void {
  const name = error instanceof Error && error.name ? error.name : ERROR_TYPE_VALUE_OTHER;
  const message = redactEmailAddresses(error instanceof Error ? error.message : String(error));
  span.setAttribute(ATTR_ERROR_TYPE, name);
  span.recordException({
    name,
    message,
    ...(error instanceof Error && error.stack ? { stack: redactEmailAddresses(error.stack) } : {}),
  });
  span.setStatus({ code: SpanStatusCode.ERROR, message });
}

/**
 * Runs a user hook so that nothing it does, throwing or rejecting, reaches the application: the
 * failure goes to the OpenTelemetry diagnostic logger instead.
 */
export function runHookSafely<Args extends unknown[]>(
  hookName: string,
  hook: ((...args: Args) => unknown) | undefined,
  ...args: Args
): void {
  if (!hook) return;
  const report = (error: unknown) =>
    diag.error(`@signup-flow/instrumentation-nats: ${hookName} failed`, error);
  try {
    const result = hook(...args);
    if (result instanceof Promise) result.catch(report);
  } catch (error) {
    report(error);
  }
}
