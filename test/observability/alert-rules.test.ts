import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { HelmRunner, SERVICE_CHARTS, type ServiceChart } from '../k8s/support/charts.js';
import { HELM_INSTALL_HINT, helmBinary, requireTool } from '../k8s/support/tools.js';
import { PROMETHEUS_INSTALL_HINT, promtool, promtoolBinary } from './support/prometheus-tools.js';

const canRun =
  requireTool('helm', helmBinary, HELM_INSTALL_HINT) &&
  requireTool('promtool', promtoolBinary, PROMETHEUS_INSTALL_HINT);

/** The operator-readable promtool test files, one per chart. */
const TEST_FILES_DIR = new URL('./rules/', import.meta.url);

interface Rule {
  alert?: string;
  record?: string;
  annotations?: Record<string, string>;
  [field: string]: unknown;
}
interface RuleFile {
  groups: { name: string; rules: Rule[] }[];
}
interface AlertRuleTest {
  alertname: string;
  exp_alerts?: unknown[];
}
interface PromtoolTestFile {
  tests: { name?: string; alert_rule_test?: AlertRuleTest[] }[];
}

function alertNames(rules: RuleFile): string[] {
  return rules.groups.flatMap((group) => group.rules.flatMap((rule) => rule.alert ?? []));
}

describe.runIf(canRun)('the alert rules, unit-tested with promtool', () => {
  let dir: string;
  /** Each chart's rendered PrometheusRule `.spec`, as a plain rule file. */
  const rendered = new Map<ServiceChart, { rules: RuleFile; path: string; testFile: string }>();

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'signup-flow-alert-rules-'));
    const helm = await HelmRunner.create(helmBinary as string);
    try {
      for (const chart of SERVICE_CHARTS) {
        const objects = await helm.template({ chart }, ['--set', 'prometheusRule.enabled=true']);
        const prometheusRule = objects.find((object) => object.kind === 'PrometheusRule');
        if (!prometheusRule) throw new Error(`${chart} rendered no PrometheusRule`);
        const rules = prometheusRule.spec as RuleFile;
        // `promtool check rules` reads the spec as rendered, annotation templates included.
        const path = join(dir, `${chart}.spec.yaml`);
        await writeFile(path, stringify(rules));
        // Annotations are prose for people; the unit tests assert when an alert fires and with
        // which labels, so the rules they load (named as the test file's `rule_files` says, and
        // resolved by promtool beside it) go without them.
        const withoutProse: RuleFile = {
          groups: rules.groups.map((group) => ({
            ...group,
            rules: group.rules.map(({ annotations: _prose, ...rule }) => rule),
          })),
        };
        await writeFile(join(dir, `${chart}.rules.yaml`), stringify(withoutProse));
        const testFile = join(dir, `${chart}.test.yaml`);
        await copyFile(new URL(`${chart}.test.yaml`, TEST_FILES_DIR), testFile);
        rendered.set(chart, { rules, path, testFile });
      }
    } finally {
      await helm.dispose();
    }
  }, 120_000);
  afterAll(() => rm(dir, { recursive: true, force: true }));

  function renderedFor(chart: ServiceChart) {
    const entry = rendered.get(chart);
    if (!entry) throw new Error(`${chart} was not rendered`);
    return entry;
  }

  it.each(SERVICE_CHARTS)(
    'when the %s chart renders its rules, then promtool finds them valid',
    async (chart) => {
      const output = await promtool(['check', 'rules', renderedFor(chart).path]);
      expect(output).toMatch(/SUCCESS: \d+ rules found/);
    },
  );

  it.each(SERVICE_CHARTS)(
    'when the %s alerts are listed, then each has a test where it fires and one where it stays quiet',
    async (chart) => {
      const alerts = alertNames(renderedFor(chart).rules);
      const tests = parse(
        await readFile(new URL(`${chart}.test.yaml`, TEST_FILES_DIR), 'utf8'),
      ) as PromtoolTestFile;
      const cases = tests.tests.flatMap((test) => test.alert_rule_test ?? []);
      const firing = new Set(
        cases.filter((c) => (c.exp_alerts ?? []).length > 0).map((c) => c.alertname),
      );
      const quiet = new Set(
        cases.filter((c) => (c.exp_alerts ?? []).length === 0).map((c) => c.alertname),
      );

      expect(alerts.length).toBeGreaterThan(0);
      expect([...firing].sort()).toEqual([...alerts].sort());
      expect([...quiet].sort()).toEqual([...alerts].sort());
    },
  );

  it.each(SERVICE_CHARTS)(
    'when promtool runs the %s test cases against the rendered rules, then every case passes',
    async (chart) => {
      const { testFile } = renderedFor(chart);
      const output = await promtool(['test', 'rules', testFile]);
      expect(output).toContain('SUCCESS');
    },
  );
});
