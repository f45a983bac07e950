import { execFile } from 'node:child_process';
import { cp, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';

const run = promisify(execFile);

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const CHARTS_DIR = join(REPO_ROOT, 'charts');

/** The service charts; each deploys on its own. */
export const SERVICE_CHARTS = ['user-service', 'messaging-service'] as const;
export type ServiceChart = (typeof SERVICE_CHARTS)[number];

/** One cell of the test matrix: a chart with the defaults or one values file from its `ci/`. */
export interface MatrixCase {
  chart: ServiceChart;
  /** `defaults`, or the values file's name without `-values.yaml` (production, keda, …). */
  name: string;
  valuesFile?: string;
}

/** Every chart × (defaults + each `ci/*-values.yaml`). */
export async function chartMatrix(): Promise<MatrixCase[]> {
  const cases: MatrixCase[] = [];
  for (const chart of SERVICE_CHARTS) {
    cases.push({ chart, name: 'defaults' });
    const files = (await readdir(join(CHARTS_DIR, chart, 'ci'))).filter((f) =>
      f.endsWith('-values.yaml'),
    );
    for (const file of files.sort()) {
      cases.push({ chart, name: file.replace(/-values\.yaml$/, ''), valuesFile: `ci/${file}` });
    }
  }
  return cases;
}

/** A Kubernetes object as rendered. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    /** Set by the API server on an object being deleted. */
    deletionTimestamp?: string;
  };
  // biome-ignore lint/suspicious/noExplicitAny: rendered manifests are checked field by field
  spec?: any;
  // biome-ignore lint/suspicious/noExplicitAny: as above
  [key: string]: any;
}

/** Parses a multi-document YAML stream strictly (duplicate keys are errors), dropping empty documents. */
export function parseManifests(text: string): K8sObject[] {
  const objects: K8sObject[] = [];
  for (const doc of parseAllDocuments(text, { uniqueKeys: true })) {
    if (doc.errors.length > 0) throw new Error(doc.errors.map((e) => e.message).join('\n'));
    const value = doc.toJS() as K8sObject | null;
    if (value !== null) objects.push(value);
  }
  return objects;
}

/**
 * Runs helm over a private copy of charts/ (so `helm dependency build` never touches the work tree).
 */
export class HelmRunner {
  private constructor(
    readonly helm: string,
    readonly chartsDir: string,
  ) {}

  static async create(helm: string): Promise<HelmRunner> {
    const dir = await mkdtemp(join(tmpdir(), 'signup-flow-charts-'));
    await cp(CHARTS_DIR, dir, { recursive: true });
    const runner = new HelmRunner(helm, dir);
    for (const chart of SERVICE_CHARTS) {
      await runner.run(['dependency', 'build', '--skip-refresh', join(dir, chart)]);
    }
    return runner;
  }

  /** Removes the private copy of charts/. */
  dispose(): Promise<void> {
    return rm(this.chartsDir, { recursive: true, force: true });
  }

  async run(
    args: string[],
    timeoutMs = 60_000,
    signal?: AbortSignal,
  ): Promise<{ stdout: string; stderr: string }> {
    try {
      return await run(this.helm, args, {
        maxBuffer: 32 * 1024 * 1024,
        timeout: timeoutMs,
        ...(signal ? { signal } : {}),
      });
    } catch (error) {
      const { stdout, stderr } = error as { stdout?: string; stderr?: string };
      throw new Error(`helm ${args.join(' ')} failed:\n${stderr ?? ''}${stdout ?? ''}`);
    }
  }

  private valuesArgs(c: Pick<MatrixCase, 'chart' | 'valuesFile'>, extra: string[]): string[] {
    return [
      ...(c.valuesFile ? ['--values', join(this.chartsDir, c.chart, c.valuesFile)] : []),
      ...extra,
    ];
  }

  lint(c: MatrixCase) {
    return this.run(['lint', '--strict', join(this.chartsDir, c.chart), ...this.valuesArgs(c, [])]);
  }

  async template(
    c: Pick<MatrixCase, 'chart' | 'valuesFile'>,
    extra: string[] = [],
    release = 'signup',
  ): Promise<K8sObject[]> {
    const { stdout } = await this.run([
      'template',
      release,
      join(this.chartsDir, c.chart),
      '--namespace',
      'signup-flow',
      ...this.valuesArgs(c, extra),
    ]);
    return parseManifests(stdout);
  }
}
