import { execFile, execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Headless Chromium from Debian's packages (`chromium-headless-shell`), or a full `chromium`. */
export const BROWSERS = ['chromium-headless-shell', 'chromium'] as const;
export const BROWSER_INSTALL_HINT = 'apt-get install chromium-headless-shell (.ci/run does)';

export function locateBrowser(): string | undefined {
  return BROWSERS.find((browser) => {
    try {
      execFileSync(browser, ['--version'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  });
}

/**
 * The page's DOM after its scripts ran: a real browser loads it, runs its JavaScript (for up to
 * `budgetMs` of virtual time, so that fetches and rendering finish) and prints the document.
 */
export async function renderedDom(
  browser: string,
  url: string,
  budgetMs = 10_000,
): Promise<string> {
  const profile = await mkdtemp(join(tmpdir(), 'signup-flow-browser-'));
  try {
    const { stdout } = await run(
      browser,
      [
        // The test runs as root in CI, where Chromium's sandbox cannot start.
        '--no-sandbox',
        '--disable-gpu',
        // No connections of its own (updates, sync, lookups): a closed network refuses them and
        // slows every start.
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--disable-quic',
        '--no-first-run',
        `--user-data-dir=${profile}`,
        `--virtual-time-budget=${budgetMs}`,
        '--dump-dom',
        url,
      ],
      { timeout: 60_000, maxBuffer: 32 * 1024 * 1024 },
    );
    return stdout;
  } finally {
    await rm(profile, { recursive: true, force: true });
  }
}
