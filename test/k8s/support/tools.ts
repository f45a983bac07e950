import { execFileSync } from 'node:child_process';
import { GO_TOOLS, type GoTool, installedToolPath } from '@signup-flow/local-stack';
import { it } from 'vitest';

/** In CI (`CI=true`) a missing tool fails the suite; on a laptop its tests skip with a message. */
export const IN_CI = process.env.CI === 'true';

function versionOf(command: string, args: readonly string[]): string | undefined {
  try {
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch {
    return undefined;
  }
}

/**
 * The pinned Go tool if it is already there (the tools folder `npm run tools` fills, or a matching
 * copy on PATH); never builds it, so a test run stays fast.
 */
export function locateGoTool(tool: GoTool): string | undefined {
  const installed = installedToolPath(tool);
  if (installed) return installed;
  const onPath = versionOf(tool.name, tool.versionArgs);
  return onPath?.includes(tool.version.replace(/^v/, '')) ? tool.name : undefined;
}

/** A program on PATH answering `args` (promtool, podman, …). */
export function locateProgram(name: string, args: readonly string[] = ['--version']) {
  return versionOf(name, args) === undefined ? undefined : name;
}

/**
 * Declares the gate for tests needing `what`: when it is missing, prints why the tests skip and how
 * to get the tool, and in CI registers a failing test instead. Returns whether the tests can run.
 */
export function requireTool(what: string, found: unknown, install: string): boolean {
  if (found) return true;
  const message = `${what} is not available; ${install}`;
  if (IN_CI) {
    it(`has ${what} (required in CI)`, () => {
      throw new Error(message);
    });
  } else {
    console.warn(`[test/k8s] skipping the tests that need ${what}: ${message}`);
  }
  return false;
}

/**
 * The same gate inside one test: returns the tool, or skips the test saying how to get it, or in CI
 * (where `.ci/run` installs everything) fails it.
 */
export function toolForTest<T>(
  context: { skip(note?: string): void },
  what: string,
  found: T | undefined,
  install: string,
): T {
  if (found) return found;
  const message = `${what} is not available; ${install}`;
  if (IN_CI) throw new Error(message);
  context.skip(message);
  throw new Error('unreachable: skip() ends the test');
}

export const helmBinary = locateGoTool(GO_TOOLS.helm);
export const HELM_INSTALL_HINT = `run \`npm run tools\` (builds helm ${GO_TOOLS.helm.version} into .tools/ with go install) or put helm ${GO_TOOLS.helm.version} on PATH`;
