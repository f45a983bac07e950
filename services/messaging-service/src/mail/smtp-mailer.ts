import { type Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import {
  ATTR_ERROR_TYPE,
  ATTR_NETWORK_PROTOCOL_NAME,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
} from '@opentelemetry/semantic-conventions';
import { safeOneLine } from '@signup-flow/service-runtime';
import { createTransport } from 'nodemailer';

/** What a send needs; the email's content comes from the templates. */
export interface OutgoingEmail {
  to: string;
  subject: string;
  text: string;
  html: string;
  /** RFC 5322 Message-ID, `<…@…>`; derived from the event id so duplicates are recognisable. */
  messageId: string;
}

/**
 * Why a send failed, which decides what it costs the message:
 * - `server-unavailable`: the mail server could not take any message (refused or reset
 *   connection, no greeting, 421, TLS or credentials failing). Not the message's fault: nothing is
 *   spent, the service waits for the server.
 * - `message-transient`: a temporary refusal of this message (450/451/452 for the recipient, a
 *   503) or no reply within the reply timeout. Spends one attempt.
 * - `permanent`: a 5xx refusal of this message. Dead-lettered at once.
 * - `aborted`: the caller's signal stopped the send (shutdown, deadline, lost lease).
 */
export const SEND_FAILURES = {
  serverUnavailable: 'server-unavailable',
  messageTransient: 'message-transient',
  permanent: 'permanent',
  aborted: 'aborted',
} as const;

export type SendFailure = (typeof SEND_FAILURES)[keyof typeof SEND_FAILURES];

export type SendResult =
  | { ok: true; response: string }
  | { ok: false; failure: SendFailure; reason: string };

/** Sends one email; never throws, the result says whether a retry can help. */
export interface Mailer {
  send(email: OutgoingEmail, signal?: AbortSignal): Promise<SendResult>;
  /** Resolves once a fresh connection is greeted (and logged in); rejects with why not. */
  probe(): Promise<void>;
  close(): void;
}

/** RFC 5321 §4.5.3.2 lets a server take up to 10 minutes to answer the end of DATA. */
export const RFC5321_DATA_TERMINATION_TIMEOUT_MS = 10 * 60_000;

export interface SmtpMailerOptions {
  /** `smtp://[user:pass@]host:port` (STARTTLS when offered) or `smtps://` (implicit TLS). */
  url: string;
  from: string;
  /** Connecting, and then the server's greeting, must each come within this long. */
  connectTimeoutMs: number;
  /**
   * The longest wait for any one reply once greeted. The slowest reply RFC 5321 allows is the
   * one to the end of DATA (10 minutes), and giving up on that one may cause a duplicate.
   */
  replyTimeoutMs: number;
  /** Open connections kept to the SMTP server. */
  poolSize: number;
}

interface SmtpError {
  message?: string;
  code?: string;
  responseCode?: number;
  permanent?: boolean;
  timeoutType?: string;
}

function smtpErrorOf(error: unknown): SmtpError {
  return (typeof error === 'object' && error !== null ? error : {}) as SmtpError;
}

/** An SMTP reply can quote the recipient; addresses never reach logs, metrics or the DLQ. */
export function describeSmtpError(error: unknown): string {
  const smtp = smtpErrorOf(error);
  const text = [smtp.code, smtp.message ?? String(error)].filter(Boolean).join(': ');
  return safeOneLine(text);
}

/** nodemailer refusing this message itself (no recipient, a broken body): no retry can help. */
const MESSAGE_ERROR_CODES = new Set(['EENVELOPE', 'EMESSAGE', 'ESTREAM', 'EMAXRECIPIENTS']);
const SETUP_TIMEOUTS = new Set(['CONNECT_TIMEOUT', 'GREETING_TIMEOUT']);

/** See {@link SEND_FAILURES}. */
export function classifySmtpError(error: unknown): SendFailure {
  const smtp = smtpErrorOf(error);
  if (smtp.code === 'EABORT') return SEND_FAILURES.aborted;
  // 421: "service not available, closing transmission channel", whatever command it answers.
  if (smtp.responseCode === 421) return SEND_FAILURES.serverUnavailable;
  // Credentials refused (535) are the deployment's problem, not the message's.
  if (smtp.code === 'EAUTH' || smtp.code === 'ENOAUTH') return SEND_FAILURES.serverUnavailable;
  if (typeof smtp.responseCode === 'number') {
    const permanent = smtp.permanent ?? (smtp.responseCode >= 500 && smtp.responseCode !== 503);
    return permanent ? SEND_FAILURES.permanent : SEND_FAILURES.messageTransient;
  }
  if (smtp.code === 'ETIMEDOUT') {
    return SETUP_TIMEOUTS.has(smtp.timeoutType ?? '')
      ? SEND_FAILURES.serverUnavailable
      : SEND_FAILURES.messageTransient;
  }
  if (smtp.code && MESSAGE_ERROR_CODES.has(smtp.code)) return SEND_FAILURES.permanent;
  // The rest (ECONNECTION, ESOCKET, a socket error without an SMTP code) lost the connection.
  return SEND_FAILURES.serverUnavailable;
}

/** Attributes of the SMTP CLIENT span beyond the semantic conventions' `server.*`. */
export const SMTP_SPAN = {
  name: 'smtp send',
  /** `accepted`, or one of {@link SEND_FAILURES}. */
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

function recordFailure(span: Span, error: unknown, failure: SendFailure): void {
  const smtp = smtpErrorOf(error);
  span.setAttribute(SMTP_SPAN.outcome, failure);
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
    connectionTimeout: options.connectTimeoutMs,
    greetingTimeout: options.connectTimeoutMs,
    // nodemailer's inactivity timer: it bounds every reply, the end of DATA's included.
    socketTimeout: options.replyTimeoutMs,
  });
  return {
    send(email, signal) {
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
              ...(signal ? { signal } : {}),
            });
            span.setAttribute(SMTP_SPAN.outcome, 'accepted');
            return { ok: true, response: String(info.response ?? '') };
          } catch (error) {
            const failure = classifySmtpError(error);
            recordFailure(span, error, failure);
            return { ok: false, failure, reason: describeSmtpError(error) };
          } finally {
            span.end();
          }
        },
      );
    },
    async probe() {
      await transport.verify();
    },
    close() {
      // Without `force`, nodemailer closes idle pooled connections only: a send still talking to
      // the server would outlive shutdown (and the database its result must be recorded in).
      (transport as unknown as { close(options: { force: boolean }): void }).close({ force: true });
    },
  };
}
