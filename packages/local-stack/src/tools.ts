import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A Go program the stack needs, pinned to one version and built from the Go module proxy. */
export interface GoTool {
  /** The binary's name. */
  name: string;
  /** The main package, without the version. */
  package: string;
  version: string;
  /** Arguments that make the binary print its version (used to accept a copy already on PATH). */
  versionArgs: string[];
  /**
   * `install`: `go install package@version`. `tool-module`: for modules whose go.mod has replace
   * directives (which `go install` refuses), a throw-away module requires it as a tool and builds it.
   * @default 'install'
   */
  build?: 'install' | 'tool-module';
}

export const GO_TOOLS = {
  natsServer: {
    name: 'nats-server',
    package: 'github.com/nats-io/nats-server/v2',
    version: 'v2.14.9',
    versionArgs: ['--version'],
  },
  /** Renders and lints the Helm charts in the Kubernetes tests (test/k8s). */
  helm: {
    name: 'helm',
    package: 'helm.sh/helm/v4/cmd/helm',
    version: 'v4.3.1',
    versionArgs: ['version', '--short'],
  },
  /** SMTP server with a web inbox and an HTTP API, for `npm start`. */
  mailpit: {
    name: 'mailpit',
    package: 'github.com/axllent/mailpit',
    version: 'v1.33.1',
    versionArgs: ['version', '--no-release-check'],
  },
  /** Jaeger v2 (OTLP receiver, in-memory storage, query API and UI). */
  jaeger: {
    name: 'jaeger',
    package: 'github.com/jaegertracing/jaeger/cmd/jaeger',
    version: 'v1.76.0',
    versionArgs: ['version'],
    build: 'tool-module',
  },
} as const satisfies Record<string, GoTool>;

/** `<repo>/.tools`, ignored by git; override with `SIGNUP_FLOW_TOOLS_DIR`. */
export function toolsDir(): string {
  return (
    process.env.SIGNUP_FLOW_TOOLS_DIR ?? fileURLToPath(new URL('../../../.tools', import.meta.url))
  );
}

async function versionOnPath(tool: GoTool): Promise<string | undefined> {
  try {
    const { stdout, stderr } = await run(tool.name, tool.versionArgs, { timeout: 10_000 });
    return `${stdout}${stderr}`;
  } catch {
    return undefined;
  }
}

const GO_BUILD_LIMITS = { timeout: 30 * 60_000, maxBuffer: 64 * 1024 * 1024 };

/** Builds the tool into `outDir` (a fresh folder), by the tool's build method. */
async function goBuild(tool: GoTool, outDir: string): Promise<void> {
  const target = `${tool.package}@${tool.version}`;
  if ((tool.build ?? 'install') === 'install') {
    await run('go', ['install', target], {
      ...GO_BUILD_LIMITS,
      env: { ...process.env, GOBIN: outDir },
    });
    return;
  }
  const moduleDir = join(outDir, 'module');
  await mkdir(moduleDir);
  await writeFile(
    join(moduleDir, 'go.mod'),
    `module signupflow.local/tools/${tool.name}\n\ngo 1.24\n`,
  );
  const options = {
    ...GO_BUILD_LIMITS,
    cwd: moduleDir,
    env: { ...process.env, GOFLAGS: '-mod=mod' },
  };
  await run('go', ['get', '-tool', target], options);
  await run('go', ['build', '-o', join(outDir, tool.name), tool.package], options);
  await rm(moduleDir, { recursive: true, force: true });
}

/**
 * Returns the path of the pinned tool: a matching copy on PATH, else the one in the tools folder,
 * else one built there now from the Go module proxy (minutes on first use, with progress).
 * Builds go to a temporary folder first, so concurrent callers never see half a binary.
 */
export async function ensureGoTool(
  tool: GoTool,
  progress: (line: string) => void = console.error,
): Promise<string> {
  const onPath = await versionOnPath(tool);
  if (onPath?.includes(tool.version.replace(/^v/, ''))) return tool.name;

  const binDir = join(toolsDir(), `${tool.name}-${tool.version}`);
  const binary = join(binDir, tool.name);
  if (existsSync(binary)) return binary;

  progress(
    `building ${tool.name} ${tool.version} from the Go module proxy (first run only; this can take minutes)…`,
  );
  await mkdir(toolsDir(), { recursive: true });
  const workDir = await mkdtemp(join(toolsDir(), `.build-${tool.name}-`));
  try {
    await goBuild(tool, workDir);
    await mkdir(binDir, { recursive: true });
    await rename(join(workDir, tool.name), binary);
  } catch (error) {
    const reason =
      (error as NodeJS.ErrnoException).code === 'ENOENT'
        ? 'the Go toolchain is not installed (https://go.dev/doc/install)'
        : String((error as { stderr?: string }).stderr || error).trim();
    throw new Error(
      `cannot build ${tool.name} ${tool.version}: ${reason}\nInstall ${tool.name} ${tool.version} on your PATH yourself, or fix the above and retry.`,
    );
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
  progress(`built ${binary}`);
  return binary;
}
