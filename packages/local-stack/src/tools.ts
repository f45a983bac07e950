import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A Go program the stack needs, pinned to one version and built from the Go module proxy. */
export interface GoTool {
  /** The binary's name. */
  name: string;
  /** `go install` target without the version. */
  package: string;
  version: string;
  /** Arguments that make the binary print its version (used to accept a copy already on PATH). */
  versionArgs: string[];
}

export const GO_TOOLS = {
  natsServer: {
    name: 'nats-server',
    package: 'github.com/nats-io/nats-server/v2',
    version: 'v2.14.9',
    versionArgs: ['--version'],
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

/**
 * Returns the path of the pinned tool: a matching copy on PATH, else the one in the tools folder,
 * else one built there now with `go install` (minutes on first use, with progress on stderr).
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

  const target = `${tool.package}@${tool.version}`;
  progress(
    `building ${tool.name} ${tool.version} with go install ${target} (first run only; this can take minutes)…`,
  );
  await mkdir(binDir, { recursive: true });
  try {
    await run('go', ['install', target], {
      env: { ...process.env, GOBIN: binDir },
      timeout: 20 * 60_000,
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (error) {
    const reason =
      (error as NodeJS.ErrnoException).code === 'ENOENT'
        ? 'the Go toolchain is not installed (https://go.dev/doc/install)'
        : String((error as { stderr?: string }).stderr ?? error).trim();
    throw new Error(
      `cannot build ${tool.name} ${tool.version}: ${reason}. Install it yourself (${tool.name} ${tool.version} on PATH) or fix the above and retry.`,
    );
  }
  progress(`built ${binary}`);
  return binary;
}
