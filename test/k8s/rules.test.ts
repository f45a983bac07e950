import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { HelmRunner, type ServiceChart } from './support/charts.js';
import { HELM_INSTALL_HINT, helmBinary, locateProgram, requireTool } from './support/tools.js';

const run = promisify(execFile);
const promtool = locateProgram('promtool');
const canRun =
  requireTool('helm v4.3.1', helmBinary, HELM_INSTALL_HINT) &&
  requireTool(
    'promtool',
    promtool,
    'install Debian\'s "prometheus" package (apt-get install prometheus)',
  );

const SERIES = {
  'user-service': 'namespace="signup-flow",job="signup-user-service"',
  'messaging-service': 'namespace="signup-flow",job="signup-messaging-service"',
} as const;

interface RuleGroup {
  name: string;
  rules: Record<string, unknown>[];
}

/** Runs promtool and returns its output; throws with that output when it fails. */
async function promtoolRun(args: string[]): Promise<string> {
  try {
    const { stdout, stderr } = await run(promtool as string, args, { timeout: 60_000 });
    return stdout + stderr;
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`promtool ${args.join(' ')} failed:\n${stdout ?? ''}${stderr ?? ''}`);
  }
}

describe.runIf(canRun)('the PrometheusRule alerts', () => {
  const dir = { path: '' };
  const ruleFiles = new Map<ServiceChart, { full: string; bare: string }>();

  beforeAll(async () => {
    dir.path = await mkdtemp(join(tmpdir(), 'signup-flow-rules-'));
    const helm = await HelmRunner.create(helmBinary as string);
    for (const chart of ['user-service', 'messaging-service'] as const) {
      const objects = await helm.template({ chart, valuesFile: 'ci/servicemonitor-values.yaml' });
      const rule = objects.find((o) => o.kind === 'PrometheusRule');
      if (!rule) throw new Error(`${chart} rendered no PrometheusRule`);
      const full = join(dir.path, `${chart}.rules.yaml`);
      await writeFile(full, stringify(rule.spec));
      // The unit tests below assert on labels; annotations are prose and stay out of them.
      const groups = (rule.spec.groups as RuleGroup[]).map((g) => ({
        ...g,
        rules: g.rules.map(({ annotations: _prose, ...r }) => r),
      }));
      const bare = join(dir.path, `${chart}.bare.rules.yaml`);
      await writeFile(bare, stringify({ groups }));
      ruleFiles.set(chart, { full, bare });
    }
    await helm.dispose();
  }, 120_000);
  afterAll(() => rm(dir.path, { recursive: true, force: true }));

  it.each(['user-service', 'messaging-service'] as const)(
    'when %s rules are checked by promtool, then they parse and every query is valid',
    async (chart) => {
      const output = await promtoolRun(['check', 'rules', ruleFiles.get(chart)?.full as string]);
      expect(output).toMatch(/SUCCESS: \d+ rules found/);
    },
  );

  async function unitTest(chart: ServiceChart, tests: unknown[]) {
    const file = join(dir.path, `${chart}.test.yaml`);
    await writeFile(
      file,
      stringify({ rule_files: [ruleFiles.get(chart)?.bare], evaluation_interval: '1m', tests }),
    );
    return promtoolRun(['test', 'rules', file]);
  }

  it('when the outbox backlog ages, then the warning and the page fire; when it is fresh, nothing does', async () => {
    const series = `signupflow_outbox_oldest_pending_age_seconds{${SERIES['user-service']}}`;
    const output = await unitTest('user-service', [
      {
        interval: '1m',
        input_series: [{ series, values: '0+60x40' }],
        alert_rule_test: [
          {
            eval_time: '25m',
            alertname: 'SignupFlowOutboxBacklogAging',
            exp_alerts: [{ exp_labels: { severity: 'warning' } }],
          },
          {
            eval_time: '25m',
            alertname: 'SignupFlowOutboxBacklogStuck',
            exp_alerts: [{ exp_labels: { severity: 'critical' } }],
          },
        ],
      },
      {
        interval: '1m',
        input_series: [{ series, values: '1x40' }],
        alert_rule_test: [
          { eval_time: '30m', alertname: 'SignupFlowOutboxBacklogAging', exp_alerts: [] },
        ],
      },
    ]);
    expect(output).toMatch(/SUCCESS/);
  });

  it('when 5xx answers pass the threshold, then the user-service error-rate alert fires', async () => {
    const output = await unitTest('user-service', [
      {
        interval: '1m',
        input_series: [
          {
            series: `signupflow_http_server_request_duration_seconds_count{${SERIES['user-service']},status_code="201"}`,
            values: '0+80x30',
          },
          {
            series: `signupflow_http_server_request_duration_seconds_count{${SERIES['user-service']},status_code="503"}`,
            values: '0+20x30',
          },
        ],
        alert_rule_test: [
          {
            eval_time: '25m',
            alertname: 'SignupFlowUserServiceErrorRate',
            exp_alerts: [{ exp_labels: { severity: 'warning' } }],
          },
        ],
      },
    ]);
    expect(output).toMatch(/SUCCESS/);
  });

  it('when messages reach the DLQ or the consumer backlog grows, then those alerts fire', async () => {
    const sel = SERIES['messaging-service'];
    const output = await unitTest('messaging-service', [
      {
        interval: '1m',
        input_series: [
          {
            series: `signupflow_dead_letters_total{${sel},reason="invalid"}`,
            values: '0 0 0 1 1 1 1 1 1 1',
          },
          { series: `signupflow_consumer_pending_messages{${sel}}`, values: '0+20x60' },
        ],
        alert_rule_test: [
          {
            eval_time: '8m',
            alertname: 'SignupFlowDeadLetters',
            exp_alerts: [{ exp_labels: { severity: 'warning' } }],
          },
          {
            eval_time: '40m',
            alertname: 'SignupFlowConsumerLagGrowing',
            exp_alerts: [{ exp_labels: { severity: 'warning' } }],
          },
        ],
      },
      {
        interval: '1m',
        input_series: [
          { series: `signupflow_dead_letters_total{${sel},reason="invalid"}`, values: '0x10' },
          { series: `signupflow_consumer_pending_messages{${sel}}`, values: '500x60' },
        ],
        alert_rule_test: [
          { eval_time: '8m', alertname: 'SignupFlowDeadLetters', exp_alerts: [] },
          { eval_time: '40m', alertname: 'SignupFlowConsumerLagGrowing', exp_alerts: [] },
        ],
      },
    ]);
    expect(output).toMatch(/SUCCESS/);
  });

  it('when half the welcome emails are slower than the SLO, then the fast burn-rate alert pages', async () => {
    const sel = SERIES['messaging-service'];
    const bucket = (le: string, values: string) => ({
      series: `signupflow_signup_to_email_latency_seconds_bucket{${sel},le="${le}"}`,
      values,
    });
    const labels = {
      severity: 'critical',
      namespace: 'signup-flow',
      job: 'signup-messaging-service',
    };
    const output = await unitTest('messaging-service', [
      {
        interval: '1m',
        input_series: [bucket('30', '0+5x30'), bucket('+Inf', '0+10x30')],
        alert_rule_test: [
          {
            eval_time: '20m',
            alertname: 'SignupFlowWelcomeEmailBudgetBurnFast',
            exp_alerts: [{ exp_labels: labels }],
          },
        ],
      },
      {
        interval: '1m',
        input_series: [bucket('30', '0+10x30'), bucket('+Inf', '0+10x30')],
        alert_rule_test: [
          { eval_time: '20m', alertname: 'SignupFlowWelcomeEmailBudgetBurnFast', exp_alerts: [] },
        ],
      },
    ]);
    expect(output).toMatch(/SUCCESS/);
  });
});
