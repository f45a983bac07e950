import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type GithubRelease, installRelease } from './release-download.js';
import { ensureGoTool, GO_TOOLS, releaseToolPath } from './tools.js';

const run = promisify(execFile);
const ARCH = { x64: 'amd64', arm64: 'arm64' }[process.arch as string] as string;

/** A release server with GitHub's download layout: /<owner>/<name>/releases/download/<tag>/<file>. */
let files = new Map<string, Buffer>();
let host = '';
const server = createServer((request, response) => {
  const file = files.get(request.url ?? '');
  response.statusCode = file ? 200 : 404;
  response.end(file ?? 'Not Found');
});
const savedEnv = { ...process.env };

beforeAll(async () => {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  host = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => server.close());
afterEach(() => {
  process.env = { ...savedEnv };
  files = new Map();
});

/** Publishes a tar.gz with `binary` (a script printing `version`) and its SHA256SUMS listing. */
async function publish(
  release: GithubRelease,
  version: string,
  tamper: 'none' | 'corrupt-archive' | 'unlisted' = 'none',
): Promise<void> {
  const fill = (template: string) => template.replaceAll('{arch}', ARCH);
  const dir = await mkdtemp(join(tmpdir(), 'signup-flow-release-'));
  const inside = join(dir, fill(release.binary));
  await mkdir(dirname(inside), { recursive: true });
  await writeFile(inside, `#!/bin/sh\necho "release build ${version}"\n`);
  await chmod(inside, 0o755);
  const archive = join(dir, 'archive.tar.gz');
  await run('tar', ['-czf', archive, '-C', dir, fill(release.binary)]);
  const content = await readFile(archive);
  const sha = createHash('sha256').update(content).digest('hex');
  const base = `/${release.repository}/releases/download/${release.tag}`;
  const name = fill(release.archive);
  files.set(`${base}/${name}`, tamper === 'corrupt-archive' ? content.subarray(0, 100) : content);
  files.set(
    `${base}/${fill(release.checksums)}`,
    Buffer.from(`${sha} *${tamper === 'unlisted' ? 'something-else.tar.gz' : name}\n`),
  );
}

const FAKE: GithubRelease = {
  repository: 'example/fake',
  tag: 'v1.0.0',
  archive: 'fake-1.0.0-linux-{arch}.tar.gz',
  checksums: 'fake-1.0.0.sha256sum.txt',
  binary: 'fake-1.0.0-linux-{arch}/fake',
};

async function installTarget(): Promise<string> {
  process.env.SIGNUP_FLOW_RELEASE_MIRROR = host;
  return join(await mkdtemp(join(tmpdir(), 'signup-flow-release-bin-')), 'fake-release', 'fake');
}

describe.runIf(process.platform === 'linux' && ARCH)('installRelease', () => {
  it('when the archive matches its published checksum, then its binary is unpacked and runs', async () => {
    await publish(FAKE, '1.0.0');
    const binary = await installTarget();
    await installRelease(FAKE, binary);
    expect((await run(binary, [])).stdout).toBe('release build 1.0.0\n');
    expect(await readdir(dirname(binary))).toEqual(['fake']);
  });

  it.each([
    [
      'the archive is corrupt',
      'corrupt-archive',
      /has sha256 [0-9a-f]{64}, but the release publishes/,
    ],
    ['the checksums do not list the archive', 'unlisted', /does not list fake-1\.0\.0-linux-/],
  ] as const)('when %s, then it is refused and nothing is installed', async (_, tamper, reason) => {
    await publish(FAKE, '1.0.0', tamper);
    const binary = await installTarget();
    await expect(installRelease(FAKE, binary)).rejects.toThrow(reason);
    expect(existsSync(dirname(binary)) ? await readdir(dirname(binary)) : []).toEqual([]);
  });

  it('when the release has no such archive, then it says the server answered 404', async () => {
    const binary = await installTarget();
    await expect(installRelease(FAKE, binary)).rejects.toThrow(/answered 404/);
    expect(existsSync(binary)).toBe(false);
  });
});

describe.runIf(process.platform === 'linux' && ARCH)('ensureGoTool with a release', () => {
  async function isolatedTools(): Promise<string[]> {
    process.env.SIGNUP_FLOW_RELEASE_MIRROR = host;
    process.env.SIGNUP_FLOW_TOOLS_DIR = await mkdtemp(join(tmpdir(), 'signup-flow-tools-'));
    // No nats-server and no Go on PATH, only what unpacks an archive: only the release can help.
    const path = await mkdtemp(join(tmpdir(), 'signup-flow-path-'));
    for (const program of ['tar', 'gzip']) {
      const { stdout } = await run('sh', ['-c', `command -v ${program}`]);
      await symlink(stdout.trim(), join(path, program));
    }
    process.env.PATH = path;
    return [];
  }

  it('when the pinned release is published, then the official binary is used, verified, with no build', async () => {
    const progress = await isolatedTools();
    await publish(GO_TOOLS.natsServer.release, GO_TOOLS.natsServer.version);
    const binary = await ensureGoTool(GO_TOOLS.natsServer, (line) => progress.push(line));
    expect(binary).toBe(releaseToolPath(GO_TOOLS.natsServer));
    expect((await run(binary, [])).stdout).toContain(
      `release build ${GO_TOOLS.natsServer.version}`,
    );
    expect(progress.join('\n')).toMatch(/official release \(checksum verified\)/);
  });

  it('when the release cannot be had, then it says why and falls back to building from source', async () => {
    const progress = await isolatedTools();
    await publish(GO_TOOLS.natsServer.release, GO_TOOLS.natsServer.version, 'corrupt-archive');
    await expect(ensureGoTool(GO_TOOLS.natsServer, (line) => progress.push(line))).rejects.toThrow(
      /cannot build nats-server .*the Go toolchain is not installed/,
    );
    expect(progress.join('\n')).toMatch(
      /no official nats-server release archive \(.*has sha256 .*\); building from the Go module proxy instead/,
    );
  });
});
