const EMAIL_ADDRESS = /[^\s<>@"',;:()[\]]+@[^\s<>@"',;:()[\]]+/g;

/**
 * Masks anything shaped like an email address. Error texts can quote one (an SMTP reply naming the
 * recipient, a JSON parse error quoting the body); such texts reach logs and DLQ headers only
 * through this.
 */
export function withoutEmailAddresses(text: string): string {
  return text.replace(EMAIL_ADDRESS, '<address>');
}

/** One line of at most `maxLength` characters, with email addresses masked. */
export function safeOneLine(text: string, maxLength = 500): string {
  return withoutEmailAddresses(text).replace(/\s+/g, ' ').trim().slice(0, maxLength);
}
