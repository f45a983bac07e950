import { execFile } from 'node:child_process';
import { cp, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parseAllDocuments, stringify } from 'yaml';

const run = promisify(execFile);
const CHARTS = fileURLToPath(new URL('../../../charts/', import.meta.url));

export interface ChartAlertRulesOptions {
  helm: string;
  /** Gets a private copy of the charts (helm writes their dependencies there) and the rule files. */
  dir: string;
  /** The service charts whose rules to render; each release is named after its chart. */
  charts: string[];
  /** The namespace the rules select (`namespace="…"`); the scraped series must carry it. */
  namespace: string;
}

/**
 * Renders each chart's PrometheusRule as a cluster with the Prometheus Operator would get it
 * (`helm template --set prometheusRule.enabled=true`) and writes its spec as a Prometheus rule
 * file. Returns the files' paths. The rules are the charts' own: no second copy to keep in step.
 */
export async function renderChartAlertRules(options: ChartAlertRulesOptions): Promise<string[]> {
  const charts = join(options.dir, 'charts');
  await rm(charts, { recursive: true, force: true });
  await mkdir(charts, { recursive: true });
  await cp(CHARTS, charts, { recursive: true });
  const files: string[] = [];
  for (const chart of options.charts) {
    const chartDir = join(charts, chart);
    await run(options.helm, ['dependency', 'build', '--skip-refresh', chartDir]);
    const { stdout } = await run(
      options.helm,
      [
        'template',
        chart,
        chartDir,
        '--namespace',
        options.namespace,
        '--set',
        'prometheusRule.enabled=true',
        '--show-only',
        'templates/prometheusrule.yaml',
      ],
      { maxBuffer: 16 * 1024 * 1024 },
    );
    const rule = parseAllDocuments(stdout)
      .map((document) => document.toJS() as { kind?: string; spec?: unknown } | null)
      .find((object) => object?.kind === 'PrometheusRule');
    if (!rule?.spec) throw new Error(`helm rendered no PrometheusRule for ${chart}`);
    const file = join(options.dir, `${chart}.rules.yaml`);
    await writeFile(file, stringify(rule.spec));
    files.push(file);
  }
  return files;
}
