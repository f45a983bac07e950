import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, ManagedProcess, StopWaiting, waitUntil } from '@signup-flow/local-stack';
import { createCertificateAuthority, issueCertificate } from '@signup-flow/testing';
import { stringify } from 'yaml';

const run = promisify(execFile);

/** The binaries of a control plane (GO_TOOLS: etcd, kube-*, kubectl, kwok). */
export interface ControlPlaneBinaries {
  etcd: string;
  kubeApiserver: string;
  kubeControllerManager: string;
  kubeScheduler: string;
  kubectl: string;
  kwok: string;
  /** kwok's stage files (its module's `kustomize/stage/`): node heartbeat, pod ready, Job pods complete. */
  kwokStages: string[];
}

export interface ControlPlaneOptions {
  /** One kwok node per entry, in that zone (`topology.kubernetes.io/zone`). */
  nodeZones: readonly string[];
}

/** Records every request's outcome: what {@link auditRefusals} reads. */
const AUDIT_POLICY = {
  apiVersion: 'audit.k8s.io/v1',
  kind: 'Policy',
  omitStages: ['RequestReceived'],
  rules: [
    // The controllers' and kwok's status traffic, hundreds of lines a second, says nothing here.
    {
      level: 'None',
      verbs: ['get', 'list', 'watch'],
    },
    { level: 'None', resources: [{ group: 'coordination.k8s.io', resources: ['leases'] }] },
    { level: 'Metadata' },
  ],
};

async function writeKubeconfig(
  path: string,
  server: string,
  caFile: string,
  client: { certFile: string; keyFile: string },
): Promise<string> {
  await writeFile(
    path,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'local', cluster: { server, 'certificate-authority': caFile } }],
      users: [
        {
          name: 'local',
          user: { 'client-certificate': client.certFile, 'client-key': client.keyFile },
        },
      ],
      contexts: [{ name: 'local', context: { cluster: 'local', user: 'local' } }],
      'current-context': 'local',
    }),
  );
  return path;
}

/**
 * A real Kubernetes control plane on loopback ports in `dir`: etcd, kube-apiserver (RBAC, the
 * default admission plugins including Pod Security, an audit log), kube-controller-manager,
 * kube-scheduler, and kwok playing three nodes' kubelets. Stop it with {@link stop}.
 */
/**
 * What kube-controller-manager and kube-scheduler are both told: who they are (one kubeconfig for
 * the API server, authentication and authorization), no leader election (one of each), and where
 * their own HTTPS endpoint listens.
 */
function componentFlags(kubeconfig: string, securePort: number): string[] {
  return [
    `--kubeconfig=${kubeconfig}`,
    `--authentication-kubeconfig=${kubeconfig}`,
    `--authorization-kubeconfig=${kubeconfig}`,
    '--leader-elect=false',
    '--bind-address=127.0.0.1',
    `--secure-port=${securePort}`,
  ];
}

export class ControlPlane {
  readonly #processes: ManagedProcess[] = [];
  /** Audit events from before the control plane was ready (its own bootstrapping races). */
  #bootstrapEvents = 0;
  /** The audit log as read so far: its events, where reading stopped, an unfinished last line. */
  readonly #events: AuditEvent[] = [];
  #auditBytesRead = 0;
  #unfinishedLine = Buffer.alloc(0);
  #auditReading: Promise<void> = Promise.resolve();

  private constructor(
    readonly dir: string,
    readonly binaries: ControlPlaneBinaries,
    /** An admin's kubeconfig (group system:masters). */
    readonly kubeconfig: string,
    /** The API server's audit log, one JSON event per line. */
    readonly auditLog: string,
  ) {}

  static async start(
    dir: string,
    binaries: ControlPlaneBinaries,
    options: ControlPlaneOptions,
  ): Promise<ControlPlane> {
    const caFile = await createCertificateAuthority(dir);
    const [apiPort, etcdPort, etcdPeerPort, managerPort, schedulerPort] = [
      await freePort(),
      await freePort(),
      await freePort(),
      await freePort(),
      await freePort(),
    ];
    const server = `https://127.0.0.1:${apiPort}`;
    const serving = await issueCertificate(
      dir,
      'apiserver',
      '/CN=kube-apiserver',
      'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:10.96.0.1,DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth',
    );
    const clientCert = (name: string, subject: string) =>
      issueCertificate(dir, name, subject, 'extendedKeyUsage=clientAuth');
    const kubeconfig = await writeKubeconfig(
      join(dir, 'admin.kubeconfig'),
      server,
      caFile,
      await clientCert('admin', '/O=system:masters/CN=signup-flow-test-admin'),
    );
    const managerKubeconfig = await writeKubeconfig(
      join(dir, 'controller-manager.kubeconfig'),
      server,
      caFile,
      await clientCert('controller-manager', '/CN=system:kube-controller-manager'),
    );
    const schedulerKubeconfig = await writeKubeconfig(
      join(dir, 'scheduler.kubeconfig'),
      server,
      caFile,
      await clientCert('scheduler', '/CN=system:kube-scheduler'),
    );
    const serviceAccountKeys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const signingKey = join(dir, 'service-accounts.key');
    const verifyingKey = join(dir, 'service-accounts.pub');
    await writeFile(
      signingKey,
      serviceAccountKeys.privateKey.export({ type: 'pkcs8', format: 'pem' }),
    );
    await writeFile(
      verifyingKey,
      serviceAccountKeys.publicKey.export({ type: 'spki', format: 'pem' }),
    );
    const auditPolicy = join(dir, 'audit-policy.yaml');
    await writeFile(auditPolicy, stringify(AUDIT_POLICY));

    const plane = new ControlPlane(dir, binaries, kubeconfig, join(dir, 'audit.log'));
    try {
      const etcd = plane.#spawn('etcd', binaries.etcd, [
        ...['--name', 'default', '--data-dir', join(dir, 'etcd')],
        `--listen-client-urls=http://127.0.0.1:${etcdPort}`,
        `--advertise-client-urls=http://127.0.0.1:${etcdPort}`,
        `--listen-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
        `--initial-cluster=default=http://127.0.0.1:${etcdPeerPort}`,
        // A throw-away store: its durability is not what these tests are about.
        '--unsafe-no-fsync',
        '--log-level=warn',
      ]);
      await plane.#waitFor(etcd, 'etcd', async () => {
        const response = await fetch(`http://127.0.0.1:${etcdPort}/health`);
        return response.ok;
      });

      const apiserver = plane.#spawn('kube-apiserver', binaries.kubeApiserver, [
        `--etcd-servers=http://127.0.0.1:${etcdPort}`,
        ...['--bind-address=127.0.0.1', '--advertise-address=127.0.0.1'],
        `--secure-port=${apiPort}`,
        `--tls-cert-file=${serving.certFile}`,
        `--tls-private-key-file=${serving.keyFile}`,
        `--client-ca-file=${caFile}`,
        '--authorization-mode=RBAC',
        '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
        `--service-account-key-file=${verifyingKey}`,
        `--service-account-signing-key-file=${signingKey}`,
        '--service-cluster-ip-range=10.96.0.0/16',
        // Pod Security, not this flag, must be what refuses a privileged pod.
        '--allow-privileged=true',
        `--audit-policy-file=${auditPolicy}`,
        `--audit-log-path=${plane.auditLog}`,
        '--audit-log-format=json',
        '--profiling=false',
      ]);
      await plane.#waitFor(
        apiserver,
        'kube-apiserver',
        async () => (await plane.kubectl(['get', '--raw', '/readyz'])).trim() === 'ok',
        90_000,
      );

      plane.#spawn('kube-controller-manager', binaries.kubeControllerManager, [
        ...componentFlags(managerKubeconfig, managerPort),
        // Each controller acts as its own service account, as kubeadm sets it up: the RBAC that
        // real clusters run, so a refusal here is one a cluster would give.
        '--use-service-account-credentials=true',
        `--service-account-private-key-file=${signingKey}`,
        `--root-ca-file=${caFile}`,
        '--cluster-cidr=10.244.0.0/16',
        '--allocate-node-cidrs=false',
        // kwok's heartbeats can lag when the test machine is busy; the node-lifecycle controller
        // would then taint the nodes not-ready and evict pods mid-rollout. The nodes are fakes
        // that never fail, so nothing is lost without it (../shared/TOOLS.md found the same).
        '--controllers=*,-node-lifecycle-controller',
      ]);
      plane.#spawn(
        'kube-scheduler',
        binaries.kubeScheduler,
        componentFlags(schedulerKubeconfig, schedulerPort),
      );
      plane.#spawn('kwok', binaries.kwok, [
        `--kubeconfig=${kubeconfig}`,
        '--manage-all-nodes=false',
        '--manage-nodes-with-label-selector=type=kwok',
        ...binaries.kwokStages.flatMap((file) => ['--config', file]),
      ]);
      await plane.#addNodes(options.nodeZones);
      // Pods need their namespace's `default` ServiceAccount, which the controller manager creates.
      await plane.#waitFor(
        undefined,
        'the default ServiceAccount (kube-controller-manager)',
        async () =>
          (await plane.kubectl(['get', 'serviceaccount', 'default', '-o', 'name'])).length > 0,
        90_000,
      );
      plane.#bootstrapEvents = (await plane.auditEvents()).length;
      return plane;
    } catch (error) {
      await plane.stop();
      throw error;
    }
  }

  #spawn(name: string, command: string, args: string[]): ManagedProcess {
    const child = new ManagedProcess({
      name,
      command,
      args,
      logFile: join(this.dir, `${name}.log`),
    });
    this.#processes.push(child);
    return child;
  }

  async #waitFor(
    waitingOn: ManagedProcess | undefined,
    what: string,
    probe: () => Promise<boolean>,
    timeoutMs = 30_000,
  ): Promise<void> {
    try {
      await waitUntil(
        what,
        async () => {
          for (const started of this.#processes) {
            if (!started.running) throw new StopWaiting(`${started.name} exited`);
          }
          return probe();
        },
        timeoutMs,
        250,
      );
    } catch (error) {
      const gone = this.#processes.find((started) => !started.running) ?? waitingOn;
      const log = gone ? `\n${gone.name}'s log:\n${await gone.finalLogTail(30)}` : '';
      throw new Error(`${(error as Error).message}${log}`);
    }
  }

  /** A kwok node per zone, each with room for every chart variant at once; waits until Ready. */
  async #addNodes(zones: readonly string[]): Promise<void> {
    const nodes = zones.map((zone, index) => ({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name: `kwok-node-${index}`,
        labels: {
          type: 'kwok',
          'kubernetes.io/os': 'linux',
          'kubernetes.io/arch': 'amd64',
          'kubernetes.io/hostname': `kwok-node-${index}`,
          'topology.kubernetes.io/zone': zone,
        },
        annotations: { 'kwok.x-k8s.io/node': 'fake' },
      },
      spec: {},
      status: {
        allocatable: { cpu: '64', memory: '256Gi', pods: '250' },
        capacity: { cpu: '64', memory: '256Gi', pods: '250' },
      },
    }));
    await this.apply(nodes.map((node) => JSON.stringify(node)).join('\n'));
    await this.#waitFor(
      undefined,
      `${zones.length} Ready kwok nodes`,
      async () => {
        const out = await this.kubectl([
          'get',
          'nodes',
          '-o',
          'jsonpath={range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}',
        ]);
        return out.split('\n').filter((status) => status === 'True').length === zones.length;
      },
      60_000,
    );
    // The API server taints every new node not-ready (TaintNodesByCondition); the node-lifecycle
    // controller, off here, would lift it once the node reports Ready, which kwok's now do.
    await this.kubectl(['taint', 'nodes', '--all', 'node.kubernetes.io/not-ready:NoSchedule-']);
  }

  /** kubectl as the admin; throws with its output when it fails. */
  async kubectl(args: string[], input?: string): Promise<string> {
    const { stdout } = await runWithInput(
      this.binaries.kubectl,
      ['--kubeconfig', this.kubeconfig, ...args],
      input,
    );
    return stdout;
  }

  /**
   * Creates or updates the objects (YAML or JSON) with server-side apply; a warning from the server
   * (a Pod Security violation in `warn` mode, a deprecated API) fails it like a refusal.
   */
  async apply(manifests: string, extra: string[] = []): Promise<string> {
    const { stdout, stderr } = await runWithInput(
      this.binaries.kubectl,
      [
        ...['--kubeconfig', this.kubeconfig, 'apply', '--server-side'],
        ...['--field-manager=signup-flow-tests', '-f', '-', ...extra],
      ],
      manifests,
    );
    const warnings = stderr.split('\n').filter((line) => /^Warning:/.test(line));
    if (warnings.length > 0) throw new Error(`the API server warned:\n${warnings.join('\n')}`);
    return stdout;
  }

  /** What the cluster says about a namespace's pods and the nodes: for a failure's message. */
  async describe(namespace: string): Promise<string> {
    const sections = [
      ['pods', ['-n', namespace, 'get', 'pods', '-o', 'wide']],
      ['events', ['-n', namespace, 'get', 'events', '--sort-by=.lastTimestamp']],
      ['nodes', ['get', 'nodes', '-o', 'wide']],
    ] as const;
    const parts: string[] = [];
    for (const [title, args] of sections) {
      parts.push(
        `--- ${title}\n${await this.kubectl([...args]).catch((error: Error) => error.message)}`,
      );
    }
    return parts.join('\n');
  }

  /**
   * The audit log since the control plane was ready, parsed. Concurrent callers (one watch per
   * chart variant) share one reader, which parses only what was appended since the last call.
   */
  async auditEvents(): Promise<readonly AuditEvent[]> {
    this.#auditReading = this.#auditReading.then(() => this.#readAppendedEvents());
    await this.#auditReading;
    return this.#events.slice(this.#bootstrapEvents);
  }

  async #readAppendedEvents(): Promise<void> {
    const file = await open(this.auditLog, 'r').catch(() => undefined);
    if (!file) return;
    try {
      const { size } = await file.stat();
      if (size <= this.#auditBytesRead) return;
      const appended = Buffer.alloc(size - this.#auditBytesRead);
      await file.read(appended, 0, appended.length, this.#auditBytesRead);
      this.#auditBytesRead = size;
      const data = Buffer.concat([this.#unfinishedLine, appended]);
      const end = data.lastIndexOf(0x0a);
      this.#unfinishedLine = Buffer.from(data.subarray(end + 1));
      if (end < 0) return;
      for (const line of data.subarray(0, end).toString('utf8').split('\n')) {
        if (line.trim() !== '') this.#events.push(JSON.parse(line) as AuditEvent);
      }
    } finally {
      await file.close();
    }
  }

  /** Stops every process, the last started first. */
  async stop(): Promise<void> {
    for (const child of [...this.#processes].reverse()) await child.stop(5_000);
  }
}

/** The fields of a `audit.k8s.io/v1` Event these tests read. */
export interface AuditEvent {
  auditID: string;
  stage: string;
  verb: string;
  requestURI: string;
  user: { username: string };
  objectRef?: { resource?: string; namespace?: string; name?: string; apiGroup?: string };
  responseStatus?: { code: number; message?: string; reason?: string };
  annotations?: Record<string, string>;
}

async function runWithInput(
  command: string,
  args: string[],
  input?: string,
): Promise<{ stdout: string; stderr: string }> {
  const child = run(command, args, { maxBuffer: 64 * 1024 * 1024, timeout: 120_000 });
  child.child.stdin?.end(input ?? '');
  try {
    return await child;
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`${command} ${args.join(' ')} failed:\n${stderr ?? ''}${stdout ?? ''}`);
  }
}
