import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { K8sObject } from './charts.js';

const run = promisify(execFile);
const SOURCE = fileURLToPath(new URL('../strict-decode', import.meta.url));

/**
 * Builds test/k8s/strict-decode (Kubernetes' own strict decoder, as the API server applies with
 * fieldValidation=Strict). It shares helm's dependencies, so after `npm run tools` the Go build
 * cache makes this a second or two.
 */
export async function withStrictDecoder<T>(use: (binary: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'signup-flow-strict-'));
  try {
    const binary = join(dir, 'strict-decode');
    await run('go', ['build', '-o', binary, '.'], { cwd: SOURCE, timeout: 10 * 60_000 });
    return await use(binary);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export interface StrictResult {
  /** `apiVersion/kind name` of each object the decoder accepted. */
  ok: string[];
  /** `apiVersion/kind` of objects it does not know (custom resources). */
  skipped: string[];
  /** One readable line per rejected object. */
  errors: string[];
}

/** Decodes every object strictly; unknown, duplicate or mistyped fields come back as errors. */
export function strictDecode(binary: string, objects: K8sObject[]): Promise<StrictResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, [], { stdio: ['pipe', 'pipe', 'inherit'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.on('error', reject);
    child.on('close', () => {
      const lines = output.split('\n').filter(Boolean);
      const pick = (prefix: string) =>
        lines.filter((l) => l.startsWith(`${prefix} `)).map((l) => l.slice(prefix.length + 1));
      resolve({ ok: pick('ok'), skipped: pick('skip'), errors: pick('error') });
    });
    child.stdin.end(`${objects.map((o) => JSON.stringify(o)).join('\n')}\n`);
  });
}
