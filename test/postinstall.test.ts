import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const SCRIPTS = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))
  .scripts as Record<string, string>;

function postinstall(userAgent: string): string {
  return execFileSync('sh', ['-c', SCRIPTS.postinstall as string], {
    encoding: 'utf8',
    env: { ...process.env, npm_config_user_agent: userAgent },
  });
}

describe('npm ci’s postinstall note', () => {
  it('when npm ran on a Node.js older than 24, then one line says why EBADENGINE was printed and that it is harmless', () => {
    const output = postinstall('npm/11.19.1 node/v20.20.2 linux x64 workspaces/false');
    expect(output.trim().split('\n')).toEqual([
      expect.stringMatching(
        /^note: npm ran on Node\.js 20, hence the EBADENGINE warnings .* harmless/,
      ),
    ]);
  });

  it('when npm ran on Node.js 24, then it says nothing', () => {
    expect(postinstall('npm/11.6.2 node/v24.11.1 linux x64 workspaces/false')).toBe('');
  });
});
