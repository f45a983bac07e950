/**
 * The live-install check, one synthetic signup through the whole flow: `helm test user-service`
 * runs it in the service's image, and `node dist/cli/check-signup-flow.js` against any install.
 * It signs a test user up, waits for the welcome email (in Mailpit's API when MAILPIT_URL is set,
 * else in the messaging-service's own metrics), finds the signup's trace in Jaeger's query API
 * when JAEGER_QUERY_URL is set, deletes what it created, and prints what it verified. Exit status
 * 0 when everything held, 1 when something did not, 2 on a configuration error.
 */
import { randomBytes } from 'node:crypto';
import { get } from 'node:http';
import { get as getTls } from 'node:https';
import { ConfigError, env, loadConfig } from '@signup-flow/service-runtime';
import { z } from 'zod';

const settingsSchema = z
  .object({
    /** The user-service's base URL. */
    USER_SERVICE_URL: z.url(),
    /** Mailpit's base URL (web UI and API): the email is looked for there. */
    MAILPIT_URL: z.url().optional(),
    /** The messaging-service's base URL: its `/metrics` count the email when there is no Mailpit. */
    MESSAGING_SERVICE_URL: z.url().optional(),
    /** Jaeger's query base URL (`…:16686`): the signup's trace is looked for there. */
    JAEGER_QUERY_URL: z.url().optional(),
    /** The domain of the test user's address; pick one whose mail goes nowhere (RFC 2606). */
    CHECK_EMAIL_DOMAIN: z.hostname().default('example.com'),
    CHECK_TIMEOUT_MS: env.positiveInt(60_000),
  })
  .refine((settings) => settings.MAILPIT_URL || settings.MESSAGING_SERVICE_URL, {
    message: 'set MAILPIT_URL or MESSAGING_SERVICE_URL: where to look for the welcome email',
  });

type Settings = z.infer<typeof settingsSchema>;

/** A step that did not hold; its message says what was expected. */
class CheckFailed extends Error {
  override readonly name = 'CheckFailed';
}

const SENT_COUNTER = 'signupflow_messages_consumed_total';
const POLL_MS = 500;

const base = (url: string) => url.replace(/\/+$/, '');

async function until<T>(
  what: string,
  deadline: number,
  probe: () => Promise<T | undefined>,
): Promise<T> {
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const found = await probe();
      if (found !== undefined) return found;
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  const reason = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
  throw new CheckFailed(`${what} did not happen in time${reason}`);
}

async function json<T>(response: Response, what: string): Promise<T> {
  if (!response.ok) throw new CheckFailed(`${what} answered ${response.status}`);
  return (await response.json()) as T;
}

/** One scrape on a fresh connection, so a Service with several replicas answers from any of them. */
function scrape(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const request = (url.startsWith('https:') ? getTls : get)(
      url,
      { agent: false, timeout: 5_000 },
      (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk) => {
          body += chunk;
        });
        response.on('end', () =>
          response.statusCode === 200
            ? resolve(body)
            : reject(new Error(`${url} answered ${response.statusCode}`)),
        );
      },
    );
    request.on('timeout', () => request.destroy(new Error(`${url} timed out`)));
    request.on('error', reject);
  });
}

/**
 * The emails one messaging-service process has sent, and which process it is (its start time: a
 * Service spreads scrapes over the replicas, each with its own counters).
 */
async function sentByOneInstance(metricsUrl: string): Promise<{ instance: string; sent: number }> {
  const text = await scrape(metricsUrl);
  const instance = /^process_start_time_seconds (\S+)$/m.exec(text)?.[1];
  if (!instance) throw new Error('no process_start_time_seconds in its metrics');
  const sent = new RegExp(`^${SENT_COUNTER}\\{[^}]*outcome="sent"[^}]*\\} (\\S+)$`, 'm').exec(
    text,
  )?.[1];
  return { instance, sent: Number(sent ?? 0) };
}

/** Each instance's sent count, scraped until no new instance has turned up for a while. */
async function sentBaseline(metricsUrl: string): Promise<Map<string, number>> {
  const baseline = new Map<string, number>();
  for (let scrapes = 0, quiet = 0; scrapes < 40 && quiet < 8; scrapes++) {
    const { instance, sent } = await sentByOneInstance(metricsUrl);
    quiet = baseline.has(instance) ? quiet + 1 : 0;
    baseline.set(instance, sent);
  }
  return baseline;
}

interface JaegerTrace {
  result?: {
    resourceSpans?: Array<{
      resource?: { attributes?: Array<{ key: string; value: { stringValue?: string } }> };
      scopeSpans?: Array<{ spans?: Array<{ name: string }> }>;
    }>;
  };
}

/** The trace's spans as `service: span name`, from Jaeger v2's OTLP-shaped query API. */
async function traceSpans(jaegerUrl: string, traceId: string): Promise<string[]> {
  const response = await fetch(`${base(jaegerUrl)}/api/v3/traces/${traceId}`);
  if (response.status === 404) return [];
  const trace = await json<JaegerTrace>(response, 'Jaeger');
  return (trace.result?.resourceSpans ?? []).flatMap((resourceSpans) => {
    const service =
      resourceSpans.resource?.attributes?.find((attribute) => attribute.key === 'service.name')
        ?.value.stringValue ?? '?';
    return (resourceSpans.scopeSpans ?? []).flatMap((scope) =>
      (scope.spans ?? []).map((span) => `${service}: ${span.name}`),
    );
  });
}

interface MailpitSearch {
  messages: Array<{ ID: string; Subject: string }>;
}

/** Runs the check, printing each verified step; throws {@link CheckFailed} at the first that fails. */
async function checkSignupFlow(settings: Settings, print: (line: string) => void): Promise<void> {
  const deadline = Date.now() + settings.CHECK_TIMEOUT_MS;
  const api = base(settings.USER_SERVICE_URL);
  const traceId = randomBytes(16).toString('hex');
  const email = `signup-check+${randomBytes(6).toString('hex')}@${settings.CHECK_EMAIL_DOMAIN}`;
  const password = randomBytes(24).toString('base64url');
  const metricsUrl = settings.MESSAGING_SERVICE_URL
    ? `${base(settings.MESSAGING_SERVICE_URL)}/metrics`
    : undefined;
  const baseline = metricsUrl && !settings.MAILPIT_URL ? await sentBaseline(metricsUrl) : undefined;

  const signup = await fetch(`${api}/v1/users`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      // Our own trace id, so the check knows which trace to look for.
      traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01`,
    },
    body: JSON.stringify({ email, password, name: 'Signup Check' }),
  });
  const user = await json<{ id: string }>(signup, 'the signup (POST /v1/users)');
  print(`✓ signed up a test user (${user.id}): 201 Created`);

  let mailpitMessage: string | undefined;
  try {
    if (settings.MAILPIT_URL) {
      const inbox = base(settings.MAILPIT_URL);
      const query = encodeURIComponent(`to:"${email}"`);
      const found = await until('the welcome email in Mailpit', deadline, async () => {
        const search = await json<MailpitSearch>(
          await fetch(`${inbox}/api/v1/search?query=${query}`),
          'Mailpit',
        );
        return search.messages.length > 0 ? search.messages : undefined;
      });
      mailpitMessage = found[0]?.ID;
      if (found.length !== 1) {
        throw new CheckFailed(`Mailpit holds ${found.length} welcome emails for one signup`);
      }
      print(`✓ the welcome email reached Mailpit ("${found[0]?.Subject}")`);
    } else if (metricsUrl && baseline) {
      await until("the welcome email in the messaging-service's metrics", deadline, async () => {
        const { instance, sent } = await sentByOneInstance(metricsUrl);
        const before = baseline.get(instance);
        return before !== undefined && sent > before ? true : undefined;
      });
      print(
        `✓ the messaging-service sent an email (${SENT_COUNTER}{outcome="sent"} rose; ${baseline.size} instance(s) watched)`,
      );
    }

    if (settings.JAEGER_QUERY_URL) {
      const jaeger = settings.JAEGER_QUERY_URL;
      // Spans are exported in batches: wait until both ends of the asynchronous hop are there.
      const spans = await until(
        `the trace ${traceId} in Jaeger, from both services`,
        deadline,
        async () => {
          const found = await traceSpans(jaeger, traceId);
          const services = new Set(found.map((span) => span.split(':')[0]));
          const complete =
            services.has('user-service') &&
            services.has('messaging-service') &&
            found.some((span) => /^messaging-service: .*smtp/i.test(span));
          return complete ? found : undefined;
        },
      );
      print(`✓ the trace ${traceId} is in Jaeger: ${spans.length} spans from both services`);
    }
  } finally {
    await cleanUp(api, email, password, settings.MAILPIT_URL, mailpitMessage, print);
  }
}

/** Deletes the test user (its own token) and its email; says so, and never hides the check's result. */
async function cleanUp(
  api: string,
  email: string,
  password: string,
  mailpitUrl: string | undefined,
  mailpitMessage: string | undefined,
  print: (line: string) => void,
): Promise<void> {
  try {
    const session = await json<{ token: string }>(
      await fetch(`${api}/v1/sessions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email, password }),
      }),
      'the login (POST /v1/sessions)',
    );
    const deleted = await fetch(`${api}/v1/users/me`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${session.token}` },
    });
    if (deleted.status !== 204) throw new Error(`DELETE /v1/users/me answered ${deleted.status}`);
    if (mailpitUrl && mailpitMessage) {
      const removed = await fetch(`${base(mailpitUrl)}/api/v1/messages`, {
        method: 'DELETE',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ IDs: [mailpitMessage] }),
      });
      if (!removed.ok) throw new Error(`Mailpit answered ${removed.status} to the deletion`);
    }
    print(`✓ cleaned up: the test user${mailpitMessage ? ' and its email' : ''} deleted`);
  } catch (error) {
    print(`! could not clean up after the check: ${(error as Error).message}`);
  }
}

try {
  const settings = loadConfig(settingsSchema);
  await checkSignupFlow(settings, (line) => console.log(line));
  console.log('signup flow check passed');
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(`check-signup-flow: ${error.message}`);
    process.exitCode = 2;
  } else {
    console.error(`✗ ${error instanceof CheckFailed ? error.message : String(error)}`);
    console.error('signup flow check FAILED');
    process.exitCode = 1;
  }
}
