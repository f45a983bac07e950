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

/** A pooled nodemailer SMTP transport. */
export function createSmtpMailer(options: SmtpMailerOptions): Mailer {
  const transport = createTransport({
    pool: true,
    url: options.url,
    maxConnections: options.poolSize,
    connectionTimeout: options.timeoutMs,
    greetingTimeout: options.timeoutMs,
    socketTimeout: options.timeoutMs,
  });
  return {
    async send(email) {
      try {
        const info = await transport.sendMail({
          from: options.from,
          to: email.to,
          subject: email.subject,
          text: email.text,
          html: email.html,
          messageId: email.messageId,
        });
        return { ok: true, response: String(info.response ?? '') };
      } catch (error) {
        return {
          ok: false,
          permanent: isPermanentSmtpError(error),
          reason: describeSmtpError(error),
        };
      }
    },
    close() {
      transport.close();
    },
  };
}
