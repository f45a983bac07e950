import { randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ensureGoTool,
  GO_TOOLS,
  startJaegerOnFreePorts,
  waitUntil,
} from '@signup-flow/local-stack';
import {
  createTestDatabase,
  onTestFileEnd,
  SmtpSink,
  serve,
  startNatsServer,
} from '@signup-flow/testing';
import { beforeAll, describe, expect, it } from 'vitest';

/** OTLP/JSON as Jaeger's `/api/v3/traces/{id}` returns it (only what the assertions read). */
interface AnyValue {
  stringValue?: string;
  intValue?: string | number;
  boolValue?: boolean;
  doubleValue?: number;
}
interface KeyValue {
  key: string;
  value: AnyValue;
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: KeyValue[];
  links?: Array<{ traceId: string; spanId: string }>;
  events?: Array<{ attributes?: KeyValue[] }>;
  status?: { code?: number; message?: string };
}
interface TraceResponse {
  result: {
    resourceSpans: Array<{
      resource: { attributes: KeyValue[] };
      scopeSpans: Array<{ spans: OtlpSpan[] }>;
    }>;
  };
}

const KIND = { server: 2, client: 3, producer: 4, consumer: 5 } as const;

interface FoundSpan extends OtlpSpan {
  service: string;
  attrs: Record<string, string | number | boolean | undefined>;
}

/** The SQL a database span ran (`db.query.text`; `db.statement` before the stable conventions). */
function queryText(span: FoundSpan | undefined): string {
  return String(span?.attrs['db.query.text'] ?? span?.attrs['db.statement'] ?? '');
}

function attributeValue(value: AnyValue): string | number | boolean | undefined {
  if (value.intValue !== undefined) return Number(value.intValue);
  return value.stringValue ?? value.boolValue ?? value.doubleValue;
}

function flatten(trace: TraceResponse): FoundSpan[] {
  return trace.result.resourceSpans.flatMap((resourceSpans) => {
    const service = String(
      attributeValue(
        resourceSpans.resource.attributes.find((a) => a.key === 'service.name')?.value ?? {},
      ),
    );
    return resourceSpans.scopeSpans.flatMap((scope) =>
      scope.spans.map((span) => ({
        ...span,
        service,
        attrs: Object.fromEntries(
          (span.attributes ?? []).map((a) => [a.key, attributeValue(a.value)]),
        ),
      })),
    );
  });
}

/** The ids of the traces Jaeger holds for a service that started after `since`. */
async function traceIdsSince(jaegerUrl: string, service: string, since: Date): Promise<string[]> {
  const query = new URLSearchParams({
    'query.service_name': service,
    'query.start_time_min': since.toISOString(),
    'query.start_time_max': new Date(Date.now() + 60_000).toISOString(),
    'query.num_traces': '1000',
  });
  const reply = await fetch(`${jaegerUrl}/api/v3/traces?${query}`);
  // Jaeger answers 404 when the search finds nothing.
  if (reply.status === 404) return [];
  if (!reply.ok) throw new Error(`Jaeger search answered ${reply.status}: ${await reply.text()}`);
  return [...new Set(flatten((await reply.json()) as TraceResponse).map((span) => span.traceId))];
}

describe('one trace from signup to inbox, in a real Jaeger', () => {
  let jaegerUrl: string;
  let apiUrl: string;
  let messagingUrl: string;
  let sink: SmtpSink;

  beforeAll(async () => {
    const dir = await mkdtemp(join(tmpdir(), 'signup-flow-jaeger-'));
    const jaeger = await startJaegerOnFreePorts(await ensureGoTool(GO_TOOLS.jaeger), dir);
    onTestFileEnd(() => jaeger.stop());
    jaegerUrl = jaeger.queryUrl;

    const nats = await startNatsServer();
    sink = await SmtpSink.start();
    onTestFileEnd(() => sink.stop());
    const tracing = {
      OTEL_SDK_DISABLED: 'false',
      OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.otlpHttpEndpoint,
      OTEL_BSP_SCHEDULE_DELAY: '100',
    };
    const users = await serve(
      'user-service',
      { ...tracing, DATABASE_URL: await createTestDatabase('trace_users'), NATS_URL: nats.url },
      dir,
    );
    apiUrl = users.baseUrl;
    const messaging = await serve(
      'messaging-service',
      {
        ...tracing,
        DATABASE_URL: await createTestDatabase('trace_messaging'),
        NATS_URL: nats.url,
        SMTP_URL: sink.url,
        MAIL_FROM: 'signup-flow <welcome@signup-flow.test>',
      },
      dir,
    );
    messagingUrl = messaging.baseUrl;
  });

  it('when nothing happens for 30 seconds, then neither service records a trace (idle relay polls, pruning, probes and scrapes are not traced)', async () => {
    const since = new Date();
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      // What an idle cluster does: kubelet probes and Prometheus scrapes.
      for (const path of ['/healthz', '/readyz', '/metrics']) {
        await fetch(`${apiUrl}${path}`);
        await fetch(`${messagingUrl}${path}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
    // Past the exporters' batch delay (100 ms), anything recorded has reached Jaeger.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(await traceIdsSince(jaegerUrl, 'user-service', since)).toEqual([]);
    expect(await traceIdsSince(jaegerUrl, 'messaging-service', since)).toEqual([]);
  }, 60_000);

  it('when a user signs up, then Jaeger holds one trace from the HTTP request to the SMTP send, with no email address in it', async () => {
    const since = new Date();
    const traceId = randomBytes(16).toString('hex');
    const email = `Traced.User+${randomBytes(3).toString('hex')}@example.test`;
    const response = await fetch(`${apiUrl}/v1/users`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01`,
      },
      body: JSON.stringify({ email, password: 'a traced password', name: 'Traced User' }),
    });
    expect(response.status).toBe(201);
    await waitUntil('the welcome email', async () => sink.received.length > 0);

    let spans: FoundSpan[] = [];
    let raw = '';
    await waitUntil(
      'the whole trace in Jaeger',
      async () => {
        const reply = await fetch(`${jaegerUrl}/api/v3/traces/${traceId}`);
        if (!reply.ok) return false;
        raw = await reply.text();
        spans = flatten(JSON.parse(raw) as TraceResponse);
        // Each service exports its own batches: neither one's spans say the other's have landed.
        return (
          spans.some((span) => span.name === 'POST /v1/users') &&
          spans.some((span) => span.name === 'publish users.created') &&
          spans.some((span) => span.name === 'smtp send') &&
          spans.some((s) => s.name.startsWith('ack '))
        );
      },
      30_000,
      250,
    );

    expect(new Set(spans.map((span) => span.traceId))).toEqual(new Set([traceId]));
    expect(new Set(spans.map((span) => span.service))).toEqual(
      new Set(['user-service', 'messaging-service']),
    );

    const server = spans.find(
      (span) => span.kind === KIND.server && span.name === 'POST /v1/users',
    );
    expect(server?.service).toBe('user-service');
    // The user and its event are stored by one statement, a span of its own under the route's.
    const route = spans.find((span) => span.name === 'router - /v1/users');
    const store = spans.filter(
      (span) => span.service === 'user-service' && /insert into "users"/i.test(queryText(span)),
    );
    expect(store).toHaveLength(1);
    expect(queryText(store[0])).toMatch(/insert into "outbox"/i);
    expect(store[0]?.parentSpanId).toBe(route?.spanId);

    const publish = spans.find((span) => span.name === 'publish users.created');
    const processSpan = spans.find((span) => span.name === 'process users.created');
    expect(publish).toMatchObject({ kind: KIND.producer, service: 'user-service' });
    expect(processSpan).toMatchObject({ kind: KIND.consumer, service: 'messaging-service' });
    expect(processSpan?.parentSpanId).toBe(publish?.spanId);
    expect(processSpan?.links).toEqual([
      expect.objectContaining({ traceId, spanId: publish?.spanId }),
    ]);
    for (const span of [publish, processSpan]) {
      expect(span?.attrs).toMatchObject({
        'messaging.system': 'nats',
        'messaging.destination.name': 'users.created',
      });
      expect(span?.attrs['messaging.message.id']).toMatch(/^[0-9a-f-]{36}$/);
    }
    expect(publish?.attrs).toMatchObject({
      'messaging.operation.type': 'send',
      'messaging.operation.name': 'publish',
    });
    expect(processSpan?.attrs).toMatchObject({
      'messaging.operation.type': 'process',
      'messaging.operation.name': 'process',
      'messaging.consumer.group.name': 'messaging-service-welcome-email',
    });

    const smtp = spans.find((span) => span.name === 'smtp send');
    expect(smtp).toMatchObject({
      kind: KIND.client,
      service: 'messaging-service',
      parentSpanId: processSpan?.spanId,
    });
    expect(smtp?.attrs).toMatchObject({
      'server.address': '127.0.0.1',
      'server.port': Number(new URL(sink.url).port),
      'signupflow.smtp.outcome': 'accepted',
    });
    const ack = spans.find((span) => span.name === 'ack users.created');
    expect(ack?.parentSpanId).toBe(processSpan?.spanId);
    // The ledger update after the send is traced under the same process span.
    expect(
      spans.some((span) => span.service === 'messaging-service' && /^UPDATE/.test(queryText(span))),
    ).toBe(true);

    // One signup, one trace: nothing else either service did meanwhile was recorded.
    expect(await traceIdsSince(jaegerUrl, 'user-service', since)).toEqual([traceId]);
    expect(await traceIdsSince(jaegerUrl, 'messaging-service', since)).toEqual([traceId]);
    // Nor is the outbox's bookkeeping after the PubAck (one UPDATE for many signups' rows) put
    // into one of those signups' traces: the user-service's part is the request's own four spans.
    spans = flatten(
      (await (await fetch(`${jaegerUrl}/api/v3/traces/${traceId}`)).json()) as TraceResponse,
    );
    expect(spans.filter((span) => span.service === 'user-service')).toHaveLength(4);

    expect(raw.toLowerCase()).not.toContain(email.toLowerCase());
    expect(raw).not.toContain('a traced password');
  });
});
