import escapeHtml from 'escape-html';

export interface WelcomeEmailInput {
  name: string;
}

export interface RenderedEmail {
  subject: string;
  text: string;
  html: string;
}

/** Names can hold anything a person typed; control characters must not reach a header line. */
function singleLine(text: string): string {
  return text.replace(/\p{Cc}+/gu, ' ').trim();
}

/** The welcome email's subject and bodies; the name is HTML-escaped in the HTML part. */
export function renderWelcomeEmail(input: WelcomeEmailInput): RenderedEmail {
  const name = input.name;
  const safeName = escapeHtml(name);
  return {
    subject: `Welcome to signup-flow, ${singleLine(name)}!`,
    text: [
      `Hello ${name},`,
      '',
      'welcome to signup-flow. Your account is ready.',
      '',
      'The signup-flow team',
      '',
    ].join('\n'),
    html: [
      '<!doctype html>',
      '<html><body>',
      `<p>Hello ${safeName},</p>`,
      '<p>welcome to signup-flow. Your account is ready.</p>',
      '<p>The signup-flow team</p>',
      '</body></html>',
      '',
    ].join('\n'),
  };
}
