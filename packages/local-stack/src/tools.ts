import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type GithubRelease, installRelease } from './release-download.js';

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
   * `module-with-web-ui`: for modules that embed a web UI built with npm from sources they ship
   * (`go install` would embed an empty UI folder): the module's source is copied, its UI built with
   * npm, then the binary with `go build` (see {@link WebUiBuild}).
   * @default 'install'
   */
  build?: 'install' | 'tool-module' | 'module-with-web-ui';
  webUi?: WebUiBuild;
  /**
   * For `tool-module` builds of modules whose go.mod replaces sibling modules with relative paths
   * (Kubernetes' staging folder, etcd's monorepo): the module that holds `package` (at `version`),
   * and the version each of those siblings is pinned to instead, as published on the module proxy.
   */
  siblings?: { module: string; pinnedTo: string };
  /** `-ldflags` for `go build` (e.g. the version a Kubernetes binary reports). */
  ldflags?: string;
  /**
   * The project's official build of this version, tried before building from source (it may be
   * better: Jaeger's has its UI). Only for projects that publish checksums with their releases.
   */
  release?: GithubRelease;
}

/** How a module's web UI is built before `go build` embeds it. */
export interface WebUiBuild {
  /** The npm script that writes the UI's assets where the Go code embeds them. */
  script: string;
  /** Any one of these must exist after the build, or it counts as failed. */
  outputs: string[];
  /**
   * Used when the module's lockfile pins a version the registry does not serve: the package.json
   * ranges are resolved instead, with these widened.
   */
  fallbackRanges: Record<string, string>;
  /** `-X` linker flags that set the version the binary reports. */
  versionVariable: string;
}

const KUBERNETES_VERSION = 'v1.34.4';
/** Kubernetes' binaries report the version the charts' `kubeVersion` is checked against. */
const KUBERNETES_LDFLAGS = [
  `gitVersion=${KUBERNETES_VERSION}`,
  'gitMajor=1',
  'gitMinor=34',
  'gitTreeState=clean',
]
  .map((setting) => `-X k8s.io/component-base/version.${setting}`)
  .join(' ');

function kubernetesBinary(name: string) {
  return {
    name,
    package: `k8s.io/kubernetes/cmd/${name}`,
    version: KUBERNETES_VERSION,
    versionArgs: name === 'kubectl' ? ['version', '--client'] : ['--version'],
    build: 'tool-module',
    // Its go.mod replaces ~31 staging modules with ./staging/…; each is published as v0.34.x.
    siblings: { module: 'k8s.io/kubernetes', pinnedTo: KUBERNETES_VERSION.replace(/^v1\./, 'v0.') },
    ldflags: KUBERNETES_LDFLAGS,
  } as const satisfies GoTool;
}

/**
 * A Kubernetes control plane on loopback for the chart installs in test/k8s/cluster: etcd, the API
 * server, the controller manager (Deployments and Jobs create Pods, where Pod admission runs), the
 * scheduler, kubectl, and kwok, which plays the nodes and their kubelets.
 */
export const KUBERNETES_TOOLS = {
  etcd: {
    name: 'etcd',
    package: 'go.etcd.io/etcd/server/v3',
    version: 'v3.6.16',
    versionArgs: ['--version'],
    build: 'tool-module',
    siblings: { module: 'go.etcd.io/etcd/server/v3', pinnedTo: 'v3.6.16' },
  },
  kubeApiserver: kubernetesBinary('kube-apiserver'),
  kubeControllerManager: kubernetesBinary('kube-controller-manager'),
  kubeScheduler: kubernetesBinary('kube-scheduler'),
  kubectl: kubernetesBinary('kubectl'),
  kwok: {
    name: 'kwok',
    package: 'sigs.k8s.io/kwok/cmd/kwok',
    version: 'v0.8.0',
    versionArgs: ['--version'],
  },
} as const satisfies Record<string, GoTool>;

export const GO_TOOLS = {
  natsServer: {
    name: 'nats-server',
    package: 'github.com/nats-io/nats-server/v2',
    version: 'v2.14.9',
    versionArgs: ['--version'],
    // .goreleaser.yml: archives wrapped in a folder named like the archive, checksums in SHA256SUMS.
    release: {
      repository: 'nats-io/nats-server',
      tag: 'v2.14.9',
      archive: 'nats-server-v2.14.9-linux-{arch}.tar.gz',
      checksums: 'SHA256SUMS',
      binary: 'nats-server-v2.14.9-linux-{arch}/nats-server',
    },
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
    // The inbox UI is Vue, built with esbuild by `npm run package` into server/ui/dist (Mailpit's
    // CONTRIBUTING.md: "Building the web UI"); without it the inbox is a blank page.
    // No release download: Mailpit publishes no checksums with its releases (build-release.yml).
    build: 'module-with-web-ui',
    webUi: {
      script: 'package',
      outputs: ['server/ui/dist/app.js', 'server/ui/dist/app.css'],
      // rapidoc draws only the API docs page; some registries serve no 12.x.
      fallbackRanges: { rapidoc: '^12.0.0 || ^9.3.8' },
      versionVariable: 'github.com/axllent/mailpit/config.Version',
    },
  },
  /** Jaeger v2 (OTLP receiver, in-memory storage, query API and UI). */
  jaeger: {
    name: 'jaeger',
    package: 'github.com/jaegertracing/jaeger/cmd/jaeger',
    version: 'v1.76.0',
    versionArgs: ['version'],
    build: 'tool-module',
    // Module v1.76.0 is Jaeger v2.13.0 (CHANGELOG.md: "v1.76.0 / v2.13.0"); the release tagged
    // v1.76.0 carries the v2 archives (scripts/build/package-deploy.sh, ci-release.yml), whose
    // binary embeds the UI a source build lacks.
    release: {
      repository: 'jaegertracing/jaeger',
      tag: 'v1.76.0',
      archive: 'jaeger-2.13.0-linux-{arch}.tar.gz',
      checksums: 'jaeger-2.13.0.sha256sum.txt',
      binary: 'jaeger-2.13.0-linux-{arch}/jaeger',
    },
  },
  ...KUBERNETES_TOOLS,
} as const satisfies Record<string, GoTool>;

/** `<repo>/.tools`, ignored by git; override with `SIGNUP_FLOW_TOOLS_DIR`. */
export function toolsDir(): string {
  return (
    process.env.SIGNUP_FLOW_TOOLS_DIR ?? fileURLToPath(new URL('../../../.tools', import.meta.url))
  );
}

/** Where the tools folder holds the pinned build of the tool. */
export function builtToolPath(tool: GoTool): string {
  // A build with its web UI gets its own folder: a cached build from before had none.
  const flavour = tool.build === 'module-with-web-ui' ? '-with-ui' : '';
  return join(toolsDir(), `${tool.name}-${tool.version}${flavour}`, tool.name);
}

/** Where the tools folder holds the project's official release binary of the tool. */
export function releaseToolPath(tool: GoTool): string {
  return join(toolsDir(), `${tool.name}-${tool.version}-release`, tool.name);
}

/** The pinned tool already in the tools folder (the official release first), if there is one. */
export function installedToolPath(tool: GoTool): string | undefined {
  return [releaseToolPath(tool), builtToolPath(tool)].find((path) => existsSync(path));
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

/** The module's source, copied (writable) out of the Go module cache into `dir`. */
async function moduleSource(tool: GoTool, dir: string): Promise<void> {
  const { stdout } = await run(
    'go',
    ['mod', 'download', '-json', `${tool.package}@${tool.version}`],
    {
      ...GO_BUILD_LIMITS,
    },
  );
  const { Dir } = JSON.parse(stdout) as { Dir: string };
  await cp(Dir, dir, { recursive: true });
  await run('chmod', ['-R', 'u+w', dir]);
}

/**
 * `replace` lines pinning every module that the tool's module replaces with a relative path
 * (which only works inside its own repository) to the published version `siblings.pinnedTo`.
 */
async function siblingReplaces(tool: GoTool): Promise<string[]> {
  if (!tool.siblings) return [];
  const { module, pinnedTo } = tool.siblings;
  const { stdout } = await run(
    'go',
    ['mod', 'download', '-json', `${module}@${tool.version}`],
    GO_BUILD_LIMITS,
  );
  const { GoMod } = JSON.parse(stdout) as { GoMod: string };
  const goMod = await readFile(GoMod, 'utf8');
  const required = new Set(
    [...goMod.matchAll(/^\s*(?:require\s+)?(\S+)\s+v\S+(?:\s+\/\/.*)?$/gm)].map(([, path]) => path),
  );
  // Only siblings the module requires: etcd also "replaces" modules it forbids, to guard its imports.
  return [...goMod.matchAll(/^\s*(?:replace\s+)?(\S+)\s+=>\s+\.\.?\/\S*\s*$/gm)]
    .map(([, sibling]) => sibling as string)
    .filter((sibling) => required.has(sibling))
    .map((sibling) => `replace ${sibling} => ${sibling} ${pinnedTo}`);
}

async function buildWebUi(
  ui: WebUiBuild,
  dir: string,
  progress: (line: string) => void,
): Promise<void> {
  const npm = { ...GO_BUILD_LIMITS, cwd: dir };
  const quiet = ['--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'];
  try {
    // Its lockfile, exactly; peers stay out (the Sass plugin falls back to the pure-JS sass).
    await run('npm', ['ci', ...quiet, '--omit=peer'], npm);
  } catch (error) {
    const reason = String((error as { stderr?: string }).stderr || error)
      .split('\n')
      .find((line) => /404 Not Found|No matching version/.test(line));
    progress(
      `  its lockfile pins a version this registry does not serve (${reason?.trim() ?? 'npm ci failed'}); resolving its package.json ranges instead`,
    );
    await rm(join(dir, 'package-lock.json'), { force: true });
    await rm(join(dir, 'node_modules'), { recursive: true, force: true });
    for (const [name, range] of Object.entries(ui.fallbackRanges)) {
      await run('npm', ['pkg', 'set', `dependencies.${name}=${range}`], npm);
    }
    await run('npm', ['install', ...quiet, '--no-package-lock', '--legacy-peer-deps'], npm);
  }
  await run('npm', ['run', ui.script], npm);
  for (const output of ui.outputs) {
    if (!existsSync(join(dir, output))) throw new Error(`the UI build wrote no ${output}`);
  }
}

/** Builds the tool into `outDir` (a fresh folder), by the tool's build method. */
async function goBuild(
  tool: GoTool,
  outDir: string,
  progress: (line: string) => void,
): Promise<void> {
  const target = `${tool.package}@${tool.version}`;
  if (tool.build === 'module-with-web-ui' && tool.webUi) {
    const source = join(outDir, 'source');
    await moduleSource(tool, source);
    progress(`  building ${tool.name}'s web UI with npm (its own sources)…`);
    await buildWebUi(tool.webUi, source, progress);
    progress(`  building ${tool.name} with go build…`);
    await run(
      'go',
      [
        'build',
        '-ldflags',
        `-X ${tool.webUi.versionVariable}=${tool.version}`,
        '-o',
        join(outDir, tool.name),
        '.',
      ],
      { ...GO_BUILD_LIMITS, cwd: source, env: { ...process.env, GOFLAGS: '-mod=mod' } },
    );
    await rm(source, { recursive: true, force: true });
    return;
  }
  if ((tool.build ?? 'install') === 'install') {
    await run('go', ['install', target], {
      ...GO_BUILD_LIMITS,
      env: { ...process.env, GOBIN: outDir },
    });
    return;
  }
  const moduleDir = join(outDir, 'module');
  await mkdir(moduleDir);
  const replaces = await siblingReplaces(tool);
  await writeFile(
    join(moduleDir, 'go.mod'),
    [`module signupflow.local/tools/${tool.name}`, '', 'go 1.24', '', ...replaces, ''].join('\n'),
  );
  const options = {
    ...GO_BUILD_LIMITS,
    cwd: moduleDir,
    env: { ...process.env, GOFLAGS: '-mod=mod' },
  };
  await run('go', ['get', '-tool', target], options);
  const ldflags = tool.ldflags ? ['-ldflags', tool.ldflags] : [];
  await run(
    'go',
    ['build', '-trimpath', ...ldflags, '-o', join(outDir, tool.name), tool.package],
    options,
  );
  await rm(moduleDir, { recursive: true, force: true });
}

/**
 * The lanes `npm run tools` builds side by side. A Go build keeps both cores of a small machine
 * busy only while it compiles, not while it resolves and downloads modules or links; the other
 * lane's build fills those gaps. The Kubernetes binaries share one module graph and build cache,
 * so they go one after another in a lane of their own: side by side they would compile the same
 * packages twice.
 */
export function toolLanes(): GoTool[][] {
  const kubernetes: GoTool[] = Object.values(KUBERNETES_TOOLS);
  return [Object.values(GO_TOOLS).filter((tool) => !kubernetes.includes(tool)), kubernetes];
}

/**
 * Installs each lane's tools in order, the lanes at once. A failure ends its own lane only;
 * every lane's failure is returned.
 */
export async function installInLanes(
  lanes: GoTool[][],
  install: (tool: GoTool) => Promise<void>,
): Promise<unknown[]> {
  const results = await Promise.allSettled(
    lanes.map(async (lane) => {
      for (const tool of lane) await install(tool);
    }),
  );
  return results.flatMap((result) => (result.status === 'rejected' ? [result.reason] : []));
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

  const installed = installedToolPath(tool);
  if (installed) return installed;
  if (tool.release) {
    try {
      await installRelease(tool.release, releaseToolPath(tool));
      progress(`downloaded ${tool.name} ${tool.version}, the official release (checksum verified)`);
      return releaseToolPath(tool);
    } catch (error) {
      const reason = error instanceof Error ? (error.cause ?? error) : error;
      progress(
        `no official ${tool.name} release archive (${reason instanceof Error ? reason.message : reason}); building from the Go module proxy instead`,
      );
    }
  }
  const binary = builtToolPath(tool);
  const binDir = dirname(binary);

  progress(
    `building ${tool.name} ${tool.version} from the Go module proxy (first run only; this can take minutes)…`,
  );
  await mkdir(toolsDir(), { recursive: true });
  const workDir = await mkdtemp(join(toolsDir(), `.build-${tool.name}-`));
  const began = Date.now();
  const ticker = setInterval(() => {
    const seconds = Math.round((Date.now() - began) / 1000);
    progress(`  still building ${tool.name}: ${Math.floor(seconds / 60)} min ${seconds % 60} s…`);
  }, 30_000);
  try {
    await goBuild(tool, workDir, progress);
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
    clearInterval(ticker);
    await rm(workDir, { recursive: true, force: true });
  }
  progress(`built ${binary} in ${Math.round((Date.now() - began) / 1000)} s`);
  return binary;
}
