import { describe, expect, it } from 'vitest';
import { renderWelcomeEmail } from './welcome-email.js';

describe('welcome email template', () => {
  it('when the name holds markup, then the HTML part escapes it and the text part keeps it', () => {
    const email = renderWelcomeEmail({ name: `<b>O'Hara</b> & "friends"` });

    expect(email.html).toContain('Hello &lt;b&gt;O&#39;Hara&lt;/b&gt; &amp; &quot;friends&quot;,');
    expect(email.html).not.toContain('<b>');
    expect(email.text).toContain(`Hello <b>O'Hara</b> & "friends",`);
  });

  it('when the name holds line breaks, then the subject stays on one line', () => {
    const email = renderWelcomeEmail({ name: 'Eve\r\nBcc: victim@example.test' });

    expect(email.subject).toBe('Welcome to signup-flow, Eve Bcc: victim@example.test!');
  });
});
