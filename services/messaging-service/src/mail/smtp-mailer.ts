import { type Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import {
  ATTR_ERROR_TYPE,
  ATTR_NETWORK_PROTOCOL_NAME,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
} from '@opentelemetry/semantic-conventions';
import { createTransport } from 'nodemailer';
import { safeOneLine } from '../privacy.js';

/** What a send needs; the email's content comes from the templates. */
export interface OutgoingEmail {
  to: string;
  subject: string;
  text: string;
  html: string;
  /** RFC 5322 Message-ID, `<…@…>`; derived from the event id so duplicates are recognisable. */
  messageId: string;
}

export type SendResult =
  | { ok: true; response: string }
  | { ok: false; permanent: boolean; reason: string };

/** Sends one email; never throws, the result says whether a retry can help. */
export interface Mailer {
  send(email: OutgoingEmail): Promise<SendResult>;
  close(): void;
}

export interface SmtpMailerOptions {
  /** `smtp://[user:pass@]host:port` (STARTTLS when offered) or `smtps://` (implicit TLS). */
  url: string;
  from: string;
  /** No connection, greeting or reply within this long fails the attempt as transient. */
  timeoutMs: number;
  /** Open connections kept to the SMTP server. */
  poolSize: number;
}

interface SmtpError {
  message?: string;
  code?: string;
  responseCode?: number;
  permanent?: boolean;
}

/** An SMTP reply can quote the recipient; addresses never reach logs, metrics or the DLQ. */
export function describeSmtpError(error: unknown): string {
  const smtp = (typeof error === 'object' && error !== null ? error : {}) as SmtpError;
  const text = [smtp.code, smtp.message ?? String(error)].filter(Boolean).join(': ');
  return safeOneLine(text);
}

/**
 * 5xx replies are permanent (RFC 5321; nodemailer sets `permanent`, treating 503 as transient);
 * 4xx replies, refused or reset connections and timeouts are transient.
 */
export function isPermanentSmtpError(error: unknown): boolean {
  const smtp = (typeof error === 'object' && error !== null ? error : {}) as SmtpError;
  if (typeof smtp.permanent === 'boolean') return smtp.permanent;
  return typeof smtp.responseCode === 'number' && smtp.responseCode >= 500;
}

/** Attributes of the SMTP CLIENT span beyond the semantic conventions' `server.*`. */
export const SMTP_SPAN = {
  name: 'smtp send',
  /** `accepted`, `transient-failure` or `permanent-failure`. */
  outcome: 'signupflow.smtp.outcome',
  /** The SMTP reply code of a refusal, when there was one. */
  responseCode: 'signupflow.smtp.response_code',
} as const;

/** Where the SMTP server is, for the span: never the recipient or the credentials. */
export function smtpServerOf(url: string): { address: string; port: number } {
  const parsed = new URL(url);
  const implicitTls = parsed.protocol === 'smtps:';
  return { address: parsed.hostname, port: Number(parsed.port) || (implicitTls ? 465 : 587) };
}

function recordFailure(span: Span, error: unknown, permanent: boolean): void {
  const smtp = (typeof error === 'object' && error !== null ? error : {}) as SmtpError;
  span.setAttribute(SMTP_SPAN.outcome, permanent ? 'permanent-failure' : 'transient-failure');
  if (typeof smtp.responseCode === 'number')
    span.setAttribute(SMTP_SPAN.responseCode, smtp.responseCode);
  span.setAttribute(
    ATTR_ERROR_TYPE,
    smtp.code ?? (smtp.responseCode ? String(smtp.responseCode) : 'Error'),
  );
  // The reply text can quote the recipient: only the scrubbed description goes on the span.
  span.setStatus({ code: SpanStatusCode.ERROR, message: describeSmtpError(error) });
}

/** A pooled nodemailer SMTP transport; each send is an SMTP CLIENT span. */
export function createSmtpMailer(options: SmtpMailerOptions): Mailer {
  const tracer = trace.getTracer('@signup-flow/messaging-service');
  const server = smtpServerOf(options.url);
  const transport = createTransport({
    pool: true,
    url: options.url,
    maxConnections: options.poolSize,
    connectionTimeout: options.timeoutMs,
    greetingTimeout: options.timeoutMs,
    socketTimeout: options.timeoutMs,
  });
  return {
    send(email) {
      const attributes = {
        [ATTR_SERVER_ADDRESS]: server.address,
        [ATTR_SERVER_PORT]: server.port,
        [ATTR_NETWORK_PROTOCOL_NAME]: 'smtp',
      };
      return tracer.startActiveSpan(
        SMTP_SPAN.name,
        { kind: SpanKind.CLIENT, attributes },
        async (span): Promise<SendResult> => {
          try {
            const info = await transport.sendMail({
              from: options.from,
              to: email.to,
              subject: email.subject,
              text: email.text,
              html: email.html,
              messageId: email.messageId,
            });
            span.setAttribute(SMTP_SPAN.outcome, 'accepted');
            return { ok: true, response: String(info.response ?? '') };
          } catch (error) {
            const permanent = isPermanentSmtpError(error);
            recordFailure(span, error, permanent);
            return { ok: false, permanent, reason: describeSmtpError(error) };
          } finally {
            span.end();
          }
        },
      );
    },
    close() {
      // Without `force`, nodemailer closes idle pooled connections only: a send still talking to
      // the server would outlive shutdown (and the database its result must be recorded in).
      (transport as unknown as { close(options: { force: boolean }): void }).close({ force: true });
    },
  };
}
