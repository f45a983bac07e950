import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import { createTestDatabase } from '@signup-flow/testing';
import { beforeEach, describe, expect, it } from 'vitest';
import { OTLP_SPAN_KIND, startOtlpReceiver } from './testing/otlp-receiver.js';

const REPOSITORY_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const ROUNDTRIP = fileURLToPath(new URL('./fixtures/koa-roundtrip.mjs', import.meta.url));
const EXIT_AFTER_SHUTDOWN = fileURLToPath(
  new URL('./fixtures/exit-after-shutdown.mjs', import.meta.url),
);
const KNEX_QUERY = fileURLToPath(new URL('./fixtures/knex-query.mjs', import.meta.url));
const HTTP_SCOPE = '@opentelemetry/instrumentation-http';
const KOA_SCOPE = '@opentelemetry/instrumentation-koa';
const NOISY_SCOPES = ['dns', 'net', 'fs'].map((name) => `@opentelemetry/instrumentation-${name}`);
const PG_SCOPE = '@opentelemetry/instrumentation-pg';
const KNEX_SCOPE = '@opentelemetry/instrumentation-knex';

const receiver = await startOtlpReceiver();
beforeEach(() => receiver.clear());

/**
 * Runs the fixture application the way the services run: `node --import` of the published entry
 * point (so the package must have been built), with only the given OTEL_* variables set.
 */
async function runInstrumented(otelEnv: Record<string, string>, script = ROUNDTRIP) {
  const child = spawn(process.execPath, ['--import', '@signup-flow/telemetry/register', script], {
    cwd: REPOSITORY_ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      ...otelEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const [exitCode] = (await once(child, 'exit')) as [number | null];
  return { exitCode, output };
}

describe('node --import @signup-flow/telemetry/register', () => {
  it('when an ESM Koa app serves a request, then its http spans and its router span (no span per middleware) reach the OTLP endpoint in one trace', async () => {
    const run = await runInstrumented({
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_SERVICE_NAME: 'roundtrip',
      OTEL_RESOURCE_ATTRIBUTES:
        'deployment.environment.name=ci,k8s.namespace.name=signup,k8s.pod.name=roundtrip-7d9f',
    });

    expect(run).toMatchObject({ exitCode: 0, output: expect.stringContaining('roundtrip done') });
    const spans = receiver.spans();
    const server = spans.find(
      (span) => span.scope === HTTP_SCOPE && span.kind === OTLP_SPAN_KIND.server,
    );
    expect(server, `spans received: ${JSON.stringify(spans.map((s) => s.name))}`).toBeDefined();
    const client = spans.find((span) => span.spanId === server?.parentSpanId);
    expect(client).toMatchObject({
      scope: HTTP_SCOPE,
      kind: OTLP_SPAN_KIND.client,
      traceId: server?.traceId,
    });
    const koa = spans.filter((span) => span.scope === KOA_SCOPE);
    expect(koa.map((span) => [span.name, span.traceId])).toEqual([
      ['router - /hello', server?.traceId],
    ]);
    const scopes = new Set(spans.map((span) => span.scope));
    for (const noisy of NOISY_SCOPES) expect(scopes).not.toContain(noisy);
    expect(server?.resource).toMatchObject({
      [ATTR_SERVICE_NAME]: 'roundtrip',
      [ATTR_SERVICE_VERSION]: '0.1.0',
      'deployment.environment.name': 'ci',
      'k8s.namespace.name': 'signup',
      'k8s.pod.name': 'roundtrip-7d9f',
    });
  });

  it('when an ESM app queries PostgreSQL through knex, then one pg span (none of knex wrapping it) is exported for the query inside a trace, and none for the one outside', async () => {
    const run = await runInstrumented(
      { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', DATABASE_URL: await createTestDatabase('otel') },
      KNEX_QUERY,
    );

    expect(run).toMatchObject({ exitCode: 0, output: expect.stringContaining('query done') });
    const spans = receiver.spans();
    const work = spans.find((span) => span.name === 'traced work');
    expect(spans.filter((span) => span.scope === KNEX_SCOPE)).toEqual([]);
    const database = spans.filter((span) => span.scope === PG_SCOPE);
    expect(database.map((span) => [span.traceId, span.parentSpanId])).toEqual([
      [work?.traceId, work?.spanId],
    ]);
  });

  it('when the app awaits shutdownTelemetry() and calls process.exit(), then its spans were flushed', async () => {
    const run = await runInstrumented(
      // A batch delay far beyond the test: only the explicit shutdown can have sent the spans.
      { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_BSP_SCHEDULE_DELAY: '600000' },
      EXIT_AFTER_SHUTDOWN,
    );

    expect(run).toMatchObject({ exitCode: 0, output: expect.stringContaining('exiting') });
    const kinds = receiver
      .spans()
      .filter((span) => span.scope === HTTP_SCOPE)
      .map((span) => span.kind);
    expect(kinds.sort()).toEqual([OTLP_SPAN_KIND.server, OTLP_SPAN_KIND.client]);
  });

  it('when a probe path is requested, then no server span is recorded for it', async () => {
    await runInstrumented({ OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' });

    const serverSpans = receiver
      .spans()
      .filter((span) => span.scope === HTTP_SCOPE && span.kind === OTLP_SPAN_KIND.server);
    expect(serverSpans).toHaveLength(1);
    expect(JSON.stringify(serverSpans)).not.toContain('/healthz');
  });

  it('when no service name is configured, then it is the entry package’s name', async () => {
    await runInstrumented({ OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json' });

    expect(receiver.spans()[0]?.resource[ATTR_SERVICE_NAME]).toBe('telemetry');
  });

  it('when no protocol is configured, then spans are exported as OTLP/HTTP protobuf', async () => {
    const run = await runInstrumented({});

    expect(run.exitCode).toBe(0);
    const traceExports = receiver.exports().filter((entry) => entry.path === '/v1/traces');
    expect(traceExports.length).toBeGreaterThan(0);
    expect(traceExports.every((entry) => entry.contentType === 'application/x-protobuf')).toBe(
      true,
    );
  });

  it('when OTEL_SDK_DISABLED=true, then the app runs and nothing is exported', async () => {
    const run = await runInstrumented({
      OTEL_SDK_DISABLED: 'true',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    });

    expect(run).toMatchObject({ exitCode: 0, output: expect.stringContaining('roundtrip done') });
    expect(receiver.exports()).toEqual([]);
  });
});
