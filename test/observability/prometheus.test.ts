import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, type StartedServer, startPrometheus, waitUntil } from '@signup-flow/local-stack';
import {
  createTestDatabase,
  onTestFileEnd,
  type ServedService,
  type ServiceName,
  SmtpSink,
  serve,
  startNatsServer,
} from '@signup-flow/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { startOtlpReceiver } from '../../packages/telemetry/src/testing/otlp-receiver.js';
import { DLQ_REASONS } from '../../services/messaging-service/src/messaging/dead-letters.js';
import { requireTool } from '../k8s/support/tools.js';
import {
  PROMETHEUS_INSTALL_HINT,
  prometheusBinary,
  promtool,
  promtoolBinary,
} from './support/prometheus-tools.js';

const canRun =
  requireTool('prometheus', prometheusBinary, PROMETHEUS_INSTALL_HINT) &&
  requireTool('promtool', promtoolBinary, PROMETHEUS_INSTALL_HINT);

const SIGNUPS = 20;
/** Prometheus job names, one per service. */
const JOBS: Record<ServiceName, string> = {
  'user-service': 'user-service',
  'messaging-service': 'messaging-service',
};

interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}
interface ExemplarSeries {
  seriesLabels: Record<string, string>;
  exemplars: { labels: Record<string, string>; value: string; timestamp: number }[];
}
interface ApiAnswer<T> {
  status: 'success' | 'error';
  data: T;
  error?: string;
}

/** Every span the services export, collected by an OTLP/HTTP receiver in this process. */
const traces = await startOtlpReceiver();

describe.runIf(canRun)('a real Prometheus scraping both services under a small load', () => {
  let prometheusUrl: string;
  let services: Record<ServiceName, ServedService>;
  let sink: SmtpSink;
  const startedAt = Date.now() / 1000;

  async function prometheusApi<T>(path: string, parameters: Record<string, string>): Promise<T> {
    const response = await fetch(`${prometheusUrl}${path}?${new URLSearchParams(parameters)}`);
    const answer = (await response.json()) as ApiAnswer<T>;
    if (answer.status !== 'success') throw new Error(`${path}: ${answer.error ?? response.status}`);
    return answer.data;
  }

  /** The instant vector of a PromQL query. */
  async function query(promql: string): Promise<PromSample[]> {
    const data = await prometheusApi<{ result: PromSample[] }>('/api/v1/query', { query: promql });
    return data.result;
  }

  /** The one value of a query that must return one sample; undefined while it returns none. */
  async function scalar(promql: string): Promise<number | undefined> {
    const result = await query(promql);
    if (result.length > 1) throw new Error(`${promql} returned ${result.length} series`);
    return result[0] ? Number(result[0].value[1]) : undefined;
  }

  function exemplars(selector: string): Promise<ExemplarSeries[]> {
    return prometheusApi<ExemplarSeries[]>('/api/v1/query_exemplars', {
      query: selector,
      start: String(Math.floor(startedAt) - 60),
      end: String(Math.ceil(Date.now() / 1000) + 60),
    });
  }

  /** Trace ids of the spans a service exported. */
  function tracesOf(service: ServiceName): Set<string> {
    return new Set(
      traces
        .spans()
        .filter((span) => span.resource['service.name'] === service)
        .map((span) => span.traceId),
    );
  }

  beforeAll(async () => {
    const nats = await startNatsServer();
    sink = await SmtpSink.start();
    onTestFileEnd(() => sink.stop());
    const logDir = await mkdtemp(join(tmpdir(), 'signup-flow-prometheus-'));
    // Tracing on, so exemplars have traces to point at; exported as OTLP/JSON to this process.
    const tracing = {
      OTEL_SDK_DISABLED: 'false',
      OTEL_EXPORTER_OTLP_ENDPOINT: traces.endpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_BSP_SCHEDULE_DELAY: '200',
    };
    services = {
      'user-service': await serve(
        'user-service',
        { DATABASE_URL: await createTestDatabase('prom_users'), NATS_URL: nats.url, ...tracing },
        logDir,
      ),
      'messaging-service': await serve(
        'messaging-service',
        {
          DATABASE_URL: await createTestDatabase('prom_messaging'),
          NATS_URL: nats.url,
          SMTP_URL: sink.url,
          MAIL_FROM: 'signup-flow <welcome@signup-flow.test>',
          ...tracing,
        },
        logDir,
      ),
    };
    const prometheusDir = join(logDir, 'prometheus');
    await mkdir(prometheusDir);
    const port = await freePort();
    const prometheus: StartedServer = await startPrometheus({
      binary: prometheusBinary as string,
      dir: prometheusDir,
      port,
      targets: {
        [JOBS['user-service']]: `127.0.0.1:${services['user-service'].port}`,
        [JOBS['messaging-service']]: `127.0.0.1:${services['messaging-service'].port}`,
      },
      scrapeIntervalSeconds: 1,
    });
    // The services' logs stay in logDir for a failure's post-mortem, as in the other e2e tests.
    onTestFileEnd(async () => {
      await prometheus.stop();
      await rm(prometheusDir, { recursive: true, force: true });
    });
    prometheusUrl = `http://127.0.0.1:${port}`;

    const answers = await Promise.all(
      Array.from({ length: SIGNUPS }, (_, index) =>
        fetch(`${services['user-service'].baseUrl}/v1/users`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            email: `grace.hopper.${index}@example.test`,
            password: 'compilers-are-people-too',
            name: `Grace Hopper ${index}`,
          }),
        }),
      ),
    );
    expect(answers.map((answer) => answer.status)).toEqual(Array(SIGNUPS).fill(201));
    await waitUntil(`${SIGNUPS} welcome emails`, async () => sink.received.length >= SIGNUPS);
    // Bounded wait for the scrapes after the last email (every second).
    await waitUntil('Prometheus to scrape every signup and email', async () => {
      const [emails, signups] = await Promise.all([
        scalar(
          `sum(signupflow_signup_to_email_latency_seconds_count{job="${JOBS['messaging-service']}"})`,
        ),
        scalar(
          `sum(signupflow_http_server_request_duration_seconds_count{job="${JOBS['user-service']}", method="POST", route="/v1/users", status_code="201"})`,
        ),
      ]);
      // At least: the tests assert exactly, with a readable difference.
      return (emails ?? 0) >= SIGNUPS && (signups ?? 0) >= SIGNUPS;
    });
  }, 180_000);

  it('when every signup got its email, then the signup→email histogram counts each once', async () => {
    const selector = `job="${JOBS['messaging-service']}"`;

    expect(sink.received).toHaveLength(SIGNUPS);
    expect(await scalar(`sum(signupflow_signup_to_email_latency_seconds_count{${selector}})`)).toBe(
      SIGNUPS,
    );
    expect(
      await scalar(
        `sum(signupflow_signup_to_email_latency_seconds_bucket{${selector}, le="+Inf"})`,
      ),
    ).toBe(SIGNUPS);
    expect(
      await scalar(
        `histogram_quantile(0.99, sum by (le) (signupflow_signup_to_email_latency_seconds_bucket{${selector}}))`,
      ),
    ).toBeGreaterThan(0);
  });

  it('when the consumer has settled everything, then the lag series are scraped at 0', async () => {
    const selector = `job="${JOBS['messaging-service']}"`;
    await waitUntil('the consumer lag gauges to reach 0', async () => {
      const [pending, ackPending] = await Promise.all([
        scalar(`signupflow_consumer_pending_messages{${selector}}`),
        scalar(`signupflow_consumer_ack_pending_messages{${selector}}`),
      ]);
      return pending === 0 && ackPending === 0;
    });

    expect(await query(`signupflow_consumer_pending_messages{${selector}}`)).toHaveLength(1);
    expect(await query(`signupflow_consumer_ack_pending_messages{${selector}}`)).toHaveLength(1);
    // Every DLQ reason's series exists at 0, so the DLQ alert sees the first dead letter.
    const deadLetters = await query(`signupflow_dead_letters_total{${selector}}`);
    expect(deadLetters.map((sample) => sample.metric.reason).sort()).toEqual(
      Object.values(DLQ_REASONS).sort(),
    );
    expect(deadLetters.every((sample) => sample.value[1] === '0')).toBe(true);
    expect(await scalar(`signupflow_dlq_messages{${selector}}`)).toBe(0);
    for (const job of Object.values(JOBS)) expect(await scalar(`up{job="${job}"}`)).toBe(1);
  });

  it('when the Grafana dashboard is evaluated, then every query is valid PromQL and the flow panels have data', async () => {
    const dashboard = JSON.parse(
      await readFile(
        new URL('../../k8s/monitoring/dashboards/signup-flow.json', import.meta.url),
        'utf8',
      ),
    ) as { panels: Array<{ title: string; type: string; targets?: Array<{ expr: string }> }> };
    const panels = dashboard.panels.filter((panel) => panel.type !== 'row');
    expect(panels.length).toBeGreaterThan(10);
    const promql = (expr: string) => expr.replaceAll('$__rate_interval', '1m');
    // Every query parses and evaluates (the API answers an error for anything else)…
    for (const panel of panels) {
      for (const target of panel.targets ?? []) await query(promql(target.expr));
    }
    // …and the flow's panels show data once a rate has two scrapes to work with.
    const flowPanels = [
      'Signups per second',
      'Signup → email latency (SLI)',
      'Outbox backlog (user-service)',
      'Consumer lag (messaging-service)',
      'Dead letters',
      'Request rate by service and route',
    ];
    for (const title of flowPanels) {
      const panel = panels.find((candidate) => candidate.title === title);
      expect(panel, title).toBeDefined();
      await waitUntil(`data in the "${title}" panel`, async () => {
        const results = await Promise.all(
          (panel?.targets ?? []).map((target) => query(promql(target.expr))),
        );
        return results.some((result) => result.length > 0);
      });
    }
  });

  it('when Prometheus scrapes OpenMetrics, then it stores exemplars that lead to the signups’ traces', async () => {
    const emailExemplars = (
      await exemplars(
        `signupflow_signup_to_email_latency_seconds_bucket{job="${JOBS['messaging-service']}"}`,
      )
    ).flatMap((series) => series.exemplars);
    const requestExemplars = (
      await exemplars(
        `signupflow_http_server_request_duration_seconds_bucket{job="${JOBS['user-service']}", route="/v1/users"}`,
      )
    ).flatMap((series) => series.exemplars);

    expect(emailExemplars.length).toBeGreaterThan(0);
    expect(requestExemplars.length).toBeGreaterThan(0);
    for (const exemplar of [...emailExemplars, ...requestExemplars]) {
      expect(exemplar.labels).toEqual({
        trace_id: expect.stringMatching(/^[0-9a-f]{32}$/),
        span_id: expect.stringMatching(/^[0-9a-f]{16}$/),
      });
    }
    // The email's exemplar names the trace the signup request started: one trace end to end.
    const untraced = () => {
      const userServiceTraces = tracesOf('user-service');
      const messagingTraces = tracesOf('messaging-service');
      return {
        requests: requestExemplars
          .map((exemplar) => exemplar.labels.trace_id)
          .filter((id) => !id || !userServiceTraces.has(id)),
        emails: emailExemplars
          .map((exemplar) => exemplar.labels.trace_id)
          .filter((id) => !id || !userServiceTraces.has(id) || !messagingTraces.has(id)),
      };
    };
    await waitUntil('the exemplars’ traces to be exported', async () => {
      const { requests, emails } = untraced();
      return requests.length === 0 && emails.length === 0;
    }).catch(() => undefined);
    expect(untraced()).toEqual({ requests: [], emails: [] });
  });

  it.each([
    ['user-service', 'signupflow_http_server_request_duration_seconds_bucket{'],
    ['messaging-service', 'signupflow_signup_to_email_latency_seconds_bucket{'],
  ] as const)(
    'when promtool lints the %s /metrics in the classic format, then it finds nothing',
    async (service, observedHistogram) => {
      const response = await fetch(`${services[service].baseUrl}/metrics`);
      expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
      const exposition = await response.text();
      // Linted after the load, so labelled series and histogram buckets are in it.
      expect(exposition).toContain(observedHistogram);

      const findings = await promtool(['check', 'metrics'], exposition);

      expect(findings.trim()).toBe('');
    },
  );
});
