import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * Where a project publishes the official build of a pinned version on GitHub, and the checksum
 * file that comes with it. `{arch}` stands for Go's name of the machine (amd64, arm64).
 */
export interface GithubRelease {
  /** owner/name */
  repository: string;
  /** The release's tag (for Jaeger v2 the v1 tag of the same commit: its release holds both). */
  tag: string;
  archive: string;
  /** A `sha256sum` listing that names the archive. */
  checksums: string;
  /** The binary's path inside the archive. */
  binary: string;
}

/** `https://github.com` unless `SIGNUP_FLOW_RELEASE_MIRROR` names a mirror with the same layout. */
function releaseHost(): string {
  return (process.env.SIGNUP_FLOW_RELEASE_MIRROR ?? 'https://github.com').replace(/\/+$/, '');
}

function goArch(): string | undefined {
  return { x64: 'amd64', arm64: 'arm64' }[process.arch as string];
}

async function download(url: string, timeoutMs: number): Promise<Buffer> {
  const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (!response.ok) throw new Error(`${url} answered ${response.status}`);
  return Buffer.from(await response.arrayBuffer());
}

/** The archive's sha256 from a `sha256sum` listing (`<hex>  <name>` or `<hex> *<name>`). */
function listedChecksum(listing: string, archive: string): string | undefined {
  for (const line of listing.split('\n')) {
    const match = /^([0-9a-f]{64}) [ *](.+)$/i.exec(line.trim());
    if (match?.[2] === archive) return match[1]?.toLowerCase();
  }
  return undefined;
}

/**
 * Downloads the release archive, checks it against the published checksum, and unpacks its binary
 * to `binary` (made executable). Throws, saying why, when any step fails; nothing is left behind.
 */
export async function installRelease(
  release: GithubRelease,
  binary: string,
  timeoutMs = 120_000,
): Promise<void> {
  const arch = goArch();
  if (process.platform !== 'linux' || !arch) {
    throw new Error(`no release archive is used on ${process.platform}/${process.arch}`);
  }
  const fill = (template: string) => template.replaceAll('{arch}', arch);
  const base = `${releaseHost()}/${release.repository}/releases/download/${release.tag}`;
  const archive = fill(release.archive);
  const listing = (await download(`${base}/${fill(release.checksums)}`, timeoutMs)).toString();
  const expected = listedChecksum(listing, archive);
  if (!expected) throw new Error(`${fill(release.checksums)} does not list ${archive}`);
  const content = await download(`${base}/${archive}`, timeoutMs);
  const actual = createHash('sha256').update(content).digest('hex');
  if (actual !== expected) {
    throw new Error(`${archive} has sha256 ${actual}, but the release publishes ${expected}`);
  }
  await mkdir(dirname(binary), { recursive: true });
  const work = await mkdtemp(join(dirname(binary), '.release-'));
  try {
    await writeFile(join(work, archive), content);
    const inside = fill(release.binary);
    await run('tar', ['-xzf', join(work, archive), '-C', work, inside]);
    await chmod(join(work, inside), 0o755);
    await rename(join(work, inside), binary);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
