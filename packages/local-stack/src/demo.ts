import { randomBytes } from 'node:crypto';
import { waitUntil } from './ports.js';
import { completeTrace, jaegerUi, renderWaterfall } from './trace-waterfall.js';

export interface DemoUrls {
  api: string;
  inbox: string;
  jaeger: string;
}

export interface DemoResult {
  userId: string;
  email: string;
  traceId: string;
  emailUrl: string;
  traceUrl: string;
  /** The same trace from Jaeger's query API (works where a source-built Jaeger has no UI). */
  traceApiUrl: string;
  /** What Jaeger serves at its UI address. */
  jaegerUi: 'ui' | 'placeholder';
}

interface MailpitSearch {
  messages: Array<{ ID: string }>;
}

/**
 * Signs a demo user up and waits for the welcome email in the inbox. The request carries a
 * `traceparent` we made, so we know which trace to point at in Jaeger.
 */
export async function runDemo(urls: DemoUrls, log: (line: string) => void): Promise<DemoResult> {
  const traceId = randomBytes(16).toString('hex');
  const email = `demo-${randomBytes(4).toString('hex')}@example.com`;
  log(`▸ signing up ${email} at ${urls.api}/v1/users…`);
  const response = await fetch(`${urls.api}/v1/users`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01`,
    },
    body: JSON.stringify({ email, password: 'demo password 1234', name: 'Demo User' }),
  });
  if (response.status !== 201) {
    throw new Error(`signup answered ${response.status}: ${await response.text()}`);
  }
  const user = (await response.json()) as { id: string };
  log('  201 Created; waiting for the welcome email…');

  let messageId = '';
  await waitUntil(
    `the welcome email to ${email} in the inbox`,
    async () => {
      const search = await fetch(
        `${urls.inbox}/api/v1/search?query=${encodeURIComponent(`to:"${email}"`)}`,
      );
      const found = (await search.json()) as MailpitSearch;
      messageId = found.messages[0]?.ID ?? '';
      return messageId !== '';
    },
    60_000,
    250,
  );
  log('  the welcome email is in the inbox; waiting for the whole trace…');
  const spans = await completeTrace(urls.jaeger, traceId, ['user-service', 'messaging-service']);
  const services = new Set(spans.map((span) => span.service));
  log('');
  log(`  trace ${traceId}: ${spans.length} spans from ${[...services].join(' and ')}`);
  for (const line of renderWaterfall(spans)) log(`  ${line}`);
  log('');
  const ui = await jaegerUi(urls.jaeger);
  const result = {
    userId: user.id,
    email,
    traceId,
    emailUrl: `${urls.inbox}/view/${messageId}`,
    traceUrl: `${urls.jaeger}/trace/${traceId}`,
    traceApiUrl: `${urls.jaeger}/api/v3/traces/${traceId}`,
    jaegerUi: ui,
  };
  log(`  the welcome email:   ${result.emailUrl}`);
  if (ui === 'ui') {
    log(`  the whole trace:     ${result.traceUrl}`);
    log(`  (as JSON:            ${result.traceApiUrl})`);
  } else {
    // A Jaeger built from the module proxy has no UI assets: do not send people to a placeholder.
    log(`  the whole trace:     ${result.traceApiUrl}`);
    log(
      '  (Jaeger here is a source build whose UI page is a placeholder; its query API has the trace)',
    );
  }
  return result;
}
