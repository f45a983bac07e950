/**
 * The charts and k8s/ against a real Kubernetes API server: etcd, kube-apiserver (RBAC, Pod
 * Security admission), kube-controller-manager, kube-scheduler and kwok nodes, started on loopback
 * (support/control-plane.ts). kwok plays the kubelets: pods are admitted, scheduled, marked Ready
 * and Job pods complete, but no container runs (the image tests run the images).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { GO_TOOLS, waitUntil } from '@signup-flow/local-stack';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { auditFindings } from './support/audit.js';
import {
  chartMatrix,
  HelmRunner,
  type K8sObject,
  type MatrixCase,
  parseManifests,
  REPO_ROOT,
  SERVICE_CHARTS,
  type ServiceChart,
} from './support/charts.js';
import { ControlPlane, type ControlPlaneBinaries } from './support/control-plane.js';
import { allCrds } from './support/crds.js';
import { HELM_INSTALL_HINT, helmBinary, locateGoTool, requireTool } from './support/tools.js';

const run = promisify(execFile);
const read = (path: string) => run('cat', [join(REPO_ROOT, path)]).then(({ stdout }) => stdout);

const CONTROL_PLANE_TOOLS = {
  etcd: GO_TOOLS.etcd,
  kubeApiserver: GO_TOOLS.kubeApiserver,
  kubeControllerManager: GO_TOOLS.kubeControllerManager,
  kubeScheduler: GO_TOOLS.kubeScheduler,
  kubectl: GO_TOOLS.kubectl,
  kwok: GO_TOOLS.kwok,
};
const located = Object.fromEntries(
  Object.entries(CONTROL_PLANE_TOOLS).map(([key, tool]) => [key, locateGoTool(tool)]),
) as Record<keyof typeof CONTROL_PLANE_TOOLS, string | undefined>;
const missing = Object.entries(located)
  .filter(([, path]) => !path)
  .map(([key]) => CONTROL_PLANE_TOOLS[key as keyof typeof CONTROL_PLANE_TOOLS].name);

const canRun =
  requireTool(`helm ${GO_TOOLS.helm.version}`, helmBinary, HELM_INSTALL_HINT) &&
  requireTool(
    `a Kubernetes control plane (${missing.join(', ')})`,
    missing.length === 0,
    'run `npm run tools` (builds etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl and kwok from the Go module proxy into the tools folder; minutes on first use)',
  );

/** kwok's own stage files: nodes Ready with heartbeats, pods Ready, Job pods complete, deletion. */
async function kwokStages(): Promise<string[]> {
  const { stdout } = await run('go', [
    'mod',
    'download',
    '-json',
    `sigs.k8s.io/kwok@${GO_TOOLS.kwok.version}`,
  ]);
  const stages = join((JSON.parse(stdout) as { Dir: string }).Dir, 'kustomize', 'stage');
  return [
    'node/fast/node-initialize.yaml',
    'node/heartbeat-with-lease/node-heartbeat-with-lease.yaml',
    'pod/fast/pod-ready.yaml',
    'pod/fast/pod-complete.yaml',
    'pod/fast/pod-delete.yaml',
  ].map((file) => join(stages, file));
}

/** The install line for a service in k8s/README.md ("Installing on a cluster", step 8). */
function readmeSetLine(chart: ServiceChart): string[] {
  return [
    ...['--set', `image.repository=registry.example.com/signup-flow/${chart}`],
    ...['--set', 'image.tag=0.1.0'],
    ...['--set', `nats.auth.existingSecret=${chart}-nats`],
    ...['--set', 'serviceMonitor.enabled=true', '--set', 'prometheusRule.enabled=true'],
  ];
}

interface Variant extends MatrixCase {
  extra: string[];
}

const variants: Variant[] = [
  ...(await chartMatrix()).map((c) => ({ ...c, extra: [] })),
  ...SERVICE_CHARTS.map((chart) => ({ chart, name: 'readme', extra: readmeSetLine(chart) })),
];

const namespaceOf = (variant: Variant) => `${variant.chart}-${variant.name}`.slice(0, 63);

describe.runIf(canRun)('the charts and k8s/ on a real Kubernetes API server (kwok nodes)', () => {
  let dir: string;
  let plane: ControlPlane;
  let helm: HelmRunner;
  /** The labels k8s/namespaces.yaml gives `signup-flow`, for each variant's own namespace. */
  let releaseNamespaceLabels: Record<string, string>;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'signup-flow-kube-'));
    const binaries: ControlPlaneBinaries = {
      ...(located as Record<keyof typeof CONTROL_PLANE_TOOLS, string>),
      kwokStages: await kwokStages(),
    };
    // The nodes of the kind cluster k8s/README.md's dev loop creates: workers in three zones.
    const kind = parse(await read('k8s/kind-cluster.yaml')) as {
      nodes: Array<{ role: string; labels?: Record<string, string> }>;
    };
    const nodeZones = kind.nodes
      .filter((node) => node.role === 'worker')
      .map((node) => node.labels?.['topology.kubernetes.io/zone'] ?? 'unzoned');
    plane = await ControlPlane.start(dir, binaries, { nodeZones });
    const crds = await allCrds();
    console.info(
      `[test/k8s/cluster] CRDs from their projects' modules: ${crds.upstream.join(', ')}; built from test/k8s/schemas (no module served here): ${crds.builtHere.join(', ')}`,
    );
    await plane.apply(crds.manifests, ['--validate=strict']);
    await plane.kubectl([
      'wait',
      '--for=condition=Established',
      '--timeout=60s',
      ...[...crds.upstream, ...crds.builtHere].map((name) => `crd/${name}`),
    ]);
    const namespaces = await read('k8s/namespaces.yaml');
    releaseNamespaceLabels =
      parseManifests(namespaces).find((ns) => ns.metadata.name === 'signup-flow')?.metadata
        .labels ?? {};
    await plane.apply(namespaces, ['--validate=strict']);
    await plane.apply(await read('k8s/priority-classes.yaml'), ['--validate=strict']);
    helm = await HelmRunner.create(helmBinary as string);
  }, 600_000);

  afterAll(async () => {
    await plane?.stop();
    await helm?.dispose();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** A namespace labelled as k8s/namespaces.yaml labels `signup-flow` (Pod Security restricted). */
  async function createRestrictedNamespace(name: string): Promise<void> {
    await plane.kubectl(['create', 'namespace', name]);
    await plane.kubectl([
      ...['label', 'namespace', name],
      ...Object.entries(releaseNamespaceLabels).map(([key, value]) => `${key}=${value}`),
    ]);
  }

  /**
   * helm against the control plane. A warning it relays from the API server fails the step, and so
   * does a refusal in `namespace` while it runs (helm --wait would only time out on it).
   */
  async function kubeHelm(args: string[], namespace: string, timeoutMs = 60_000) {
    const abort = new AbortController();
    let watching = true;
    // Ends only by throwing: once helm is done the race is decided, and it waits for nothing.
    const refused = (async (): Promise<never> => {
      while (watching) {
        const findings = auditFindings(await plane.auditEvents(), namespace);
        if (findings.length > 0) {
          abort.abort();
          throw new Error(
            `the API server refused, during helm ${args[0]}:\n${findings.join('\n')}`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 1_000));
      }
      return new Promise<never>(() => undefined);
    })();
    const result = await Promise.race([
      helm.run([...args, '--kubeconfig', plane.kubeconfig], timeoutMs, abort.signal),
      refused,
    ])
      .catch(async (error: Error) => {
        throw new Error(`${error.message}\n${await plane.describe(namespace)}`);
      })
      .finally(() => {
        watching = false;
      });
    // client-go prints what the API server warns about through its warning handler (warnings.go).
    const warnings = result.stderr
      .split('\n')
      .filter((line) => /warnings\.go:\d+\]|^Warning:/.test(line));
    expect(warnings, `helm ${args[0]} relayed warnings`).toEqual([]);
    return result;
  }

  async function expectNoFindings(namespace: string): Promise<void> {
    expect(auditFindings(await plane.auditEvents(), namespace)).toEqual([]);
  }

  it('when the k8s/ platform manifests are applied, then the server accepts every object (strict fields) and Jaeger and Mailpit roll out under Pod Security restricted', async () => {
    for (const file of [
      'k8s/dev/secrets.yaml',
      'k8s/postgres/clusters.yaml',
      'k8s/jaeger/jaeger.yaml',
      'k8s/mailpit/mailpit.yaml',
    ]) {
      const manifests = await read(file);
      await plane.apply(manifests, ['--validate=strict', '--dry-run=server']);
      await plane.apply(manifests, ['--validate=strict']);
    }
    await plane.kubectl([
      '-n',
      'observability',
      'rollout',
      'status',
      'deployment',
      '--timeout=90s',
    ]);
    await plane.kubectl(['-n', 'mailpit', 'rollout', 'status', 'deployment', '--timeout=90s']);
    for (const namespace of ['signup-flow', 'observability', 'mailpit']) {
      await expectNoFindings(namespace);
    }
  }, 180_000);

  it('when a privileged pod is created in a restricted namespace, then it is refused and the audit check reports it, as it does a Deployment that templates one (negative control)', async () => {
    await createRestrictedNamespace('negative-control');
    const container = {
      name: 'privileged',
      image: 'registry.example.com/anything:1',
      securityContext: { privileged: true },
    };
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'privileged', namespace: 'negative-control' },
      spec: { containers: [container] },
    };
    await expect(plane.apply(JSON.stringify(pod))).rejects.toThrow(/violates PodSecurity/);
    const deployment = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'privileged', namespace: 'negative-control' },
      spec: {
        selector: { matchLabels: { app: 'privileged' } },
        template: {
          metadata: { labels: { app: 'privileged' } },
          spec: { containers: [container] },
        },
      },
    };
    // Accepted (Pod Security enforces on pods), but warned about and audited.
    await expect(plane.apply(JSON.stringify(deployment))).rejects.toThrow(
      /the API server warned:\nWarning: would violate PodSecurity "restricted/,
    );
    await waitUntil(
      'the controller manager’s refused pod in the audit log',
      async () =>
        auditFindings(await plane.auditEvents(), 'negative-control').some((line) =>
          line.startsWith(
            'create negative-control/pods/ by system:serviceaccount:kube-system:replicaset-controller: 403',
          ),
        ),
      60_000,
      500,
    );
    const findings = auditFindings(await plane.auditEvents(), 'negative-control');
    expect(findings).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /^(create|patch) negative-control\/pods\/privileged by .*: 403 .*violates PodSecurity "restricted/,
        ),
        expect.stringMatching(
          /^patch negative-control\/deployments\/privileged by .*: Pod Security pod-security\.kubernetes\.io\/audit-violations: .*privileged/,
        ),
      ]),
    );
  }, 120_000);

  describe.concurrent('every chart variant: helm install --wait, upgrade, uninstall', () => {
    it.each(variants)(
      '$chart with $name: installed with hooks, upgraded with rolled pods and a rerun hook, uninstalled to what helm.sh/resource-policy keeps',
      async (variant) => {
        const namespace = namespaceOf(variant);
        await createRestrictedNamespace(namespace);
        await createReadmeSecrets(plane, namespace);
        const chartDir = join(helm.chartsDir, variant.chart);
        const values = [
          ...(variant.valuesFile ? ['--values', join(chartDir, variant.valuesFile)] : []),
          ...variant.extra,
        ];

        // Every object the release would create, hooks and the test Pod included.
        const { stdout: rendered } = await kubeHelm(
          ['template', variant.chart, chartDir, '--namespace', namespace, ...values],
          namespace,
        );
        const objects = parseManifests(rendered);
        await plane.apply(rendered, ['-n', namespace, '--validate=strict', '--dry-run=server']);

        /** `helm install` or `upgrade` of the variant, waiting for its pods and hook Jobs. */
        const release = (command: 'install' | 'upgrade', ...settings: string[]) =>
          kubeHelm(
            [
              command,
              variant.chart,
              chartDir,
              ...['--namespace', namespace, '--wait', '--wait-for-jobs', '--timeout', '3m'],
              ...values,
              ...settings,
            ],
            namespace,
            240_000,
          );

        await release('install');
        const firstPods = await podNames(plane, namespace, variant.chart);
        expect(firstPods.length).toBeGreaterThan(0);

        await release('upgrade', '--set-string', 'podAnnotations.rollout=second');
        await waitUntil(
          `${namespace}: only pods of the upgraded template`,
          async () => {
            const pods = await podNames(plane, namespace, variant.chart);
            return pods.length > 0 && pods.every((pod) => !firstPods.includes(pod));
          },
          90_000,
          500,
        );
        const hooks = objects.filter((object) => object.metadata.annotations?.['helm.sh/hook']);
        const migrationJob = hooks.find(
          (object) =>
            object.kind === 'Job' &&
            /pre-upgrade/.test(object.metadata.annotations?.['helm.sh/hook'] ?? ''),
        );
        if (migrationJob) {
          const runs = (await plane.auditEvents()).filter(
            (event) =>
              // Helm 4 creates with server-side apply: a PATCH answered 201.
              (event.verb === 'create' || event.verb === 'patch') &&
              event.objectRef?.resource === 'jobs' &&
              event.objectRef.namespace === namespace &&
              event.objectRef.name === migrationJob.metadata.name &&
              !event.requestURI.includes('dryRun=') &&
              event.responseStatus?.code === 201,
          );
          expect(runs.length, 'the migration Job ran at install and again at upgrade').toBe(2);
        }

        await kubeHelm(
          ['uninstall', variant.chart, '--namespace', namespace, '--wait', '--timeout', '3m'],
          namespace,
          240_000,
        );
        const kept = objects
          .filter((object) => object.metadata.annotations?.['helm.sh/resource-policy'] === 'keep')
          .map(identity)
          .sort();
        await waitUntil(
          `${namespace}: only what helm.sh/resource-policy keep documents after uninstall`,
          async () =>
            JSON.stringify(await releaseLeftovers(plane, namespace)) === JSON.stringify(kept),
          90_000,
          1_000,
        ).catch(async (error) => {
          throw new Error(
            `${(error as Error).message}: left ${JSON.stringify(await releaseLeftovers(plane, namespace))}, expected ${JSON.stringify(kept)}`,
          );
        });
        await expectNoFindings(namespace);
      },
      600_000,
    );
  });

  it('when the charts are installed, then the server refused nothing anywhere in the cluster and recorded no Pod Security violation outside the negative control', async () => {
    const findings = auditFindings(await plane.auditEvents()).filter(
      (line) => !line.includes('negative-control/'),
    );
    expect(findings).toEqual([]);
  });
});

const identity = (object: Pick<K8sObject, 'kind' | 'metadata'>) =>
  `${object.kind}/${object.metadata.name}`;

async function podNames(plane: ControlPlane, namespace: string, chart: string): Promise<string[]> {
  const pods = JSON.parse(
    await plane.kubectl([
      ...['-n', namespace, 'get', 'pods', '-l', `app.kubernetes.io/name=${chart}`, '-o', 'json'],
    ]),
  ) as { items: K8sObject[] };
  // Pods on their way out are not the release's any more.
  return pods.items
    .filter((pod) => !pod.metadata.deletionTimestamp)
    .map((pod) => pod.metadata.name);
}

/**
 * The Secrets k8s/README.md's install steps create before the charts (steps 4, 5 and 7), with
 * throw-away values: CloudNativePG's database Secrets, the NATS logins, the JWT key.
 */
async function createReadmeSecrets(plane: ControlPlane, namespace: string): Promise<void> {
  const secret = (name: string, data: Record<string, string>) => ({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace },
    stringData: data,
  });
  const secrets = [
    secret('user-service-jwt', { secret: 'test-only-signing-key-0123456789abcdef0123456789' }),
    secret('user-service-db-app', {
      uri: 'postgresql://user_service:x@user-service-db-rw:5432/users',
    }),
    secret('messaging-service-db-app', {
      uri: 'postgresql://messaging_service:x@messaging-service-db-rw:5432/messaging',
    }),
    ...SERVICE_CHARTS.map((chart) => secret(`${chart}-nats`, { user: chart, password: 'x' })),
  ];
  await plane.apply(secrets.map((object) => JSON.stringify(object)).join('\n'));
}

let namespacedResources: Promise<string> | undefined;

/**
 * What is left in the namespace besides what the test created (its Secrets) and what Kubernetes
 * puts in every namespace (the `default` ServiceAccount, `kube-root-ca.crt`, Events).
 */
async function releaseLeftovers(plane: ControlPlane, namespace: string): Promise<string[]> {
  // Every CRD is installed before the first variant, so the list is the same for every call.
  namespacedResources ??= plane
    .kubectl(['api-resources', '--verbs=list', '--namespaced', '-o', 'name'])
    .then((out) =>
      out
        .split('\n')
        .filter((resource) => resource && !/^events(\.events\.k8s\.io)?$/.test(resource))
        .join(','),
    );
  const out = await plane.kubectl([
    ...['-n', namespace, 'get', await namespacedResources, '--ignore-not-found'],
    ...['-o', 'jsonpath={range .items[*]}{.kind}/{.metadata.name}{"\\n"}{end}'],
  ]);
  const ours = new Set([
    'ServiceAccount/default',
    'ConfigMap/kube-root-ca.crt',
    'Secret/user-service-jwt',
    'Secret/user-service-db-app',
    'Secret/messaging-service-db-app',
    ...SERVICE_CHARTS.map((chart) => `Secret/${chart}-nats`),
  ]);
  return out
    .split('\n')
    .filter((line) => line && !ours.has(line))
    .sort();
}
