import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, GO_TOOLS, StopWaiting, waitUntil } from '@signup-flow/local-stack';
import { afterAll, describe, expect, it } from 'vitest';
import { parseManifests, REPO_ROOT } from './support/charts.js';
import { locateGoTool, requireTool } from './support/tools.js';

/**
 * The platform manifests' configuration run by the same programs, pinned in packages/local-stack
 * (Jaeger v2 and Mailpit are built from source here; the cluster runs their images). Only the bind
 * addresses are moved to free loopback ports. This checks what a cluster would otherwise be the
 * first to check: that Jaeger accepts our config file, and that the probes' paths answer.
 */
const jaeger = locateGoTool(GO_TOOLS.jaeger);
const mailpit = locateGoTool(GO_TOOLS.mailpit);
const HINT = 'run `npm run tools` (builds the pinned Go tools into .tools/)';
const canRunJaeger = requireTool(`jaeger ${GO_TOOLS.jaeger.version}`, jaeger, HINT);
const canRunMailpit = requireTool(`mailpit ${GO_TOOLS.mailpit.version}`, mailpit, HINT);

const children: ChildProcess[] = [];
const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(
    children.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGTERM');
        }),
    ),
  );
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

function start(command: string, args: string[], env: Record<string, string> = {}) {
  const child = spawn(command, args, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk) => (output += chunk));
  child.stderr?.on('data', (chunk) => (output += chunk));
  children.push(child);
  return { child, output: () => output };
}

const manifest = (path: string) => parseManifests(readFileSync(join(REPO_ROOT, path), 'utf8'));

async function answers(url: string, init?: RequestInit): Promise<number> {
  return (await fetch(url, { ...init, signal: AbortSignal.timeout(2_000) })).status;
}

describe.runIf(canRunJaeger)('Jaeger v2 with the k8s/jaeger config', () => {
  it('when started, then its health, query and OTLP/HTTP endpoints answer on the ports the Services use', async () => {
    const objects = manifest('k8s/jaeger/jaeger.yaml');
    const config: string = objects.find((o) => o.kind === 'ConfigMap')?.data['config.yaml'];
    const container = objects.find((o) => o.kind === 'Deployment')?.spec.template.spec
      .containers[0];
    const port = (name: string) =>
      container.ports.find((p: { name: string }) => p.name === name).containerPort;
    const local: Record<string, number> = {};
    let rewritten = config;
    for (const name of ['otlp-grpc', 'otlp-http', 'query', 'health']) {
      local[name] = await freePort();
      expect(rewritten).toContain(`0.0.0.0:${port(name)}`);
      rewritten = rewritten.replace(`0.0.0.0:${port(name)}`, `127.0.0.1:${local[name]}`);
    }
    const dir = await mkdtemp(join(tmpdir(), 'signup-flow-jaeger-'));
    dirs.push(dir);
    await writeFile(join(dir, 'config.yaml'), rewritten);
    const arg = container.args[0].replace('/etc/jaeger/config.yaml', join(dir, 'config.yaml'));
    const program = start(jaeger as string, [arg]);
    const probe = container.readinessProbe.httpGet.path;
    await waitUntil(
      `jaeger ${probe} (output: ${program.output().slice(-2000)})`,
      async () => {
        if (program.child.exitCode !== null)
          throw new StopWaiting(`jaeger exited: ${program.output()}`);
        return (await answers(`http://127.0.0.1:${local.health}${probe}`)) === 200;
      },
      30_000,
      200,
    );
    expect(await answers(`http://127.0.0.1:${local.query}/api/services`)).toBe(200);
    expect(
      await answers(`http://127.0.0.1:${local['otlp-http']}/v1/traces`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ resourceSpans: [] }),
      }),
    ).toBe(200);
  }, 60_000);
});

describe.runIf(canRunMailpit)('Mailpit with the k8s/mailpit settings', () => {
  it('when started, then its liveness and readiness paths answer and SMTP listens', async () => {
    const container = manifest('k8s/mailpit/mailpit.yaml').find((o) => o.kind === 'Deployment')
      ?.spec.template.spec.containers[0];
    const env = Object.fromEntries(
      container.env.map((e: { name: string; value: string }) => [e.name, e.value]),
    ) as Record<string, string>;
    const http = await freePort();
    const smtp = await freePort();
    expect(env.MP_UI_BIND_ADDR).toBe('0.0.0.0:8025');
    expect(env.MP_SMTP_BIND_ADDR).toBe('0.0.0.0:1025');
    const program = start(mailpit as string, [], {
      ...env,
      MP_UI_BIND_ADDR: `127.0.0.1:${http}`,
      MP_SMTP_BIND_ADDR: `127.0.0.1:${smtp}`,
    });
    for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe']) {
      const path = container[probe].httpGet.path;
      await waitUntil(
        `mailpit ${path} (output: ${program.output().slice(-2000)})`,
        async () => {
          if (program.child.exitCode !== null)
            throw new StopWaiting(`mailpit exited: ${program.output()}`);
          return (await answers(`http://127.0.0.1:${http}${path}`)) === 200;
        },
        30_000,
        200,
      );
    }
    // Mailpit starts its SMTP and HTTP servers side by side: either may log first.
    await waitUntil(
      `mailpit to log its SMTP address (output: ${program.output().slice(-2000)})`,
      async () => program.output().includes(`127.0.0.1:${smtp}`),
    );
  }, 60_000);
});
