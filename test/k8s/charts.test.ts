import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  CHARTS_DIR,
  chartMatrix,
  HelmRunner,
  type K8sObject,
  type MatrixCase,
  parseManifests,
  SERVICE_CHARTS,
} from './support/charts.js';
import { validateObject } from './support/schemas.js';
import { strictDecode, withStrictDecoder } from './support/strict.js';
import { HELM_INSTALL_HINT, helmBinary, locateProgram, requireTool } from './support/tools.js';

const matrix = await chartMatrix();
const canRun = requireTool('helm v4.3.1', helmBinary, HELM_INSTALL_HINT);
const hasGo = requireTool(
  'the Go toolchain',
  locateProgram('go', ['version']),
  'install Go (https://go.dev/doc/install); it builds test/k8s/strict-decode',
);

function find(objects: K8sObject[], kind: string, nameSuffix = ''): K8sObject {
  const found = objects.find((o) => o.kind === kind && o.metadata.name.endsWith(nameSuffix));
  if (!found) throw new Error(`no ${kind}${nameSuffix ? ` named *${nameSuffix}` : ''} rendered`);
  return found;
}

function container(deployment: K8sObject) {
  return deployment.spec.template.spec.containers[0];
}

/** A Kubernetes memory quantity (`320Mi`, `1Gi`) in MiB. */
function mebibytes(quantity: string): number {
  const match = /^(\d+)(Mi|Gi)$/.exec(quantity);
  if (!match) throw new Error(`not a Mi/Gi memory quantity: ${quantity}`);
  return Number(match[1]) * (match[2] === 'Gi' ? 1024 : 1);
}

function configOf(objects: K8sObject[]): Record<string, string> {
  return find(objects, 'ConfigMap').data;
}

describe.runIf(canRun)('the Helm charts', () => {
  let helm: HelmRunner;
  const rendered = new Map<string, K8sObject[]>();
  const output = (chart: string, name: string) => {
    const objects = rendered.get(`${chart}/${name}`);
    if (!objects) throw new Error(`${chart} was not rendered with ${name} values`);
    return objects;
  };

  beforeAll(async () => {
    helm = await HelmRunner.create(helmBinary as string);
    for (const c of matrix) rendered.set(`${c.chart}/${c.name}`, await helm.template(c));
  }, 180_000);
  afterAll(() => helm?.dispose());

  it('when the matrix is listed, then it has defaults, production-like, KEDA, ServiceMonitor and NACK values', () => {
    const names = (chart: string) => matrix.filter((c) => c.chart === chart).map((c) => c.name);
    for (const chart of SERVICE_CHARTS) {
      expect(names(chart)).toEqual(
        expect.arrayContaining(['defaults', 'production', 'servicemonitor', 'nack']),
      );
    }
    expect(names('messaging-service')).toContain('keda');
  });

  describe.each(matrix)('$chart with $name values', (c: MatrixCase) => {
    it('when linted strictly, then helm reports no problem', async () => {
      const { stdout } = await helm.lint(c);
      expect(stdout).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
      expect(stdout).not.toMatch(/\[(WARNING|ERROR)\]/);
    });

    it('when rendered, then every object validates against its Kubernetes or CRD schema', () => {
      const objects = output(c.chart, c.name);
      expect(objects.length).toBeGreaterThan(5);
      for (const object of objects) validateObject(object);
    });

    it('when rendered, then the pods read config and credentials as designed', () => {
      const objects = output(c.chart, c.name);
      const deployment = find(objects, 'Deployment');
      const app = container(deployment);
      const env = Object.fromEntries(app.env.map((e: { name: string }) => [e.name, e]));
      // OTEL_SERVICE_NAME from the component label, whose value is the chart name.
      expect(env.OTEL_SERVICE_NAME.valueFrom.fieldRef.fieldPath).toBe(
        "metadata.labels['app.kubernetes.io/component']",
      );
      expect(deployment.spec.template.metadata.labels['app.kubernetes.io/component']).toBe(c.chart);
      expect(env.OTEL_RESOURCE_ATTRIBUTES.value).toContain('service.version=0.1.0');
      // Credentials only from existing Secrets, never inline.
      expect(env.DATABASE_URL.valueFrom.secretKeyRef.name).toBeTruthy();
      expect(
        app.env.filter((e: { value?: string }) => /postgres(ql)?:\/\//.test(e.value ?? '')),
      ).toEqual([]);
      // Migrations run in the hook Job, so the pods never migrate.
      expect(configOf(objects).DB_MIGRATE).toBe('false');
      expect(deployment.spec.template.metadata.annotations['checksum/config']).toMatch(
        /^[a-f0-9]{64}$/,
      );
      expect(app.envFrom[0].configMapRef.name).toBe(find(objects, 'ConfigMap').metadata.name);
      // The heap is capped (NODE_OPTIONS from nodeOptions) at half the memory limit at most: the
      // rest of the process and, in the user-service, the hashes in flight need the other half.
      const heapCapMiB = Number(
        /--max-old-space-size=(\d+)/.exec(configOf(objects).NODE_OPTIONS ?? '')?.[1],
      );
      expect(heapCapMiB).toBeGreaterThan(0);
      expect(heapCapMiB).toBeLessThanOrEqual(mebibytes(app.resources.limits.memory) / 2);
    });

    it('when rendered, then the migration Job is a pre-install/pre-upgrade hook with its own ServiceAccount', () => {
      const objects = output(c.chart, c.name);
      const job = find(objects, 'Job', '-migrate');
      expect(job.metadata.annotations?.['helm.sh/hook']).toBe('pre-install,pre-upgrade');
      const values = parse(readFileSync(join(CHARTS_DIR, c.chart, 'values.yaml'), 'utf8'));
      expect(container(job).command).toEqual(values.migration.command);
      expect(container(job).command[0]).toBe('node');
      const account = objects.find(
        (o) =>
          o.kind === 'ServiceAccount' &&
          o.metadata.name === job.spec.template.spec.serviceAccountName,
      );
      expect(account?.metadata.annotations?.['helm.sh/hook']).toBe('pre-install,pre-upgrade');
      expect(Number(account?.metadata.annotations?.['helm.sh/hook-weight'])).toBeLessThan(
        Number(job.metadata.annotations?.['helm.sh/hook-weight']),
      );
      // The hook's pods are not selected by the Service or the PodDisruptionBudget.
      const selector = find(objects, 'Service').spec.selector as Record<string, string>;
      const podLabels = job.spec.template.metadata.labels as Record<string, string>;
      expect(Object.entries(selector).every(([k, v]) => podLabels[k] === v)).toBe(false);
    });

    it('when rendered, then Service, ServiceAccount, PDB, NetworkPolicy and the helm test Pod are there', () => {
      const objects = output(c.chart, c.name);
      const account = objects.find(
        (o) => o.kind === 'ServiceAccount' && !o.metadata.annotations?.['helm.sh/hook'],
      );
      expect(account?.automountServiceAccountToken).toBe(false);
      expect(find(objects, 'Service').spec.ports[0].targetPort).toBe('http');
      expect(find(objects, 'NetworkPolicy').spec.policyTypes).toEqual(['Ingress', 'Egress']);
      const test = find(objects, 'Pod', '-test');
      expect(test.metadata.annotations?.['helm.sh/hook']).toBe('test');
      if (c.name !== 'dev') expect(find(objects, 'PodDisruptionBudget').spec.selector).toBeTruthy();
    });
  });

  it.runIf(hasGo)(
    'when decoded strictly like the API server, then no built-in object has an unknown, duplicate or mistyped field',
    async () => {
      await withStrictDecoder(async (decoder) => {
        const everything = [...rendered.values()].flat();
        const result = await strictDecode(decoder, everything);
        expect(result.errors).toEqual([]);
        expect(result.ok.length + result.skipped.length).toBe(everything.length);
        // Only custom resources are left to their own schemas.
        expect(new Set(result.skipped.map((k) => k.split('/')[0]))).toEqual(
          new Set(['monitoring.coreos.com', 'keda.sh', 'jetstream.nats.io']),
        );
        // And the decoder does reject what the cluster would.
        const typo = structuredClone(find(output('user-service', 'defaults'), 'Deployment'));
        typo.spec.template.spec.topologySpreadConstraint =
          typo.spec.template.spec.topologySpreadConstraints;
        expect((await strictDecode(decoder, [typo])).errors.join('\n')).toMatch(
          /unknown field "spec.template.spec.topologySpreadConstraint"/,
        );
      });
    },
    180_000,
  );

  it('when a value changes, then the config checksum changes and the pods roll', async () => {
    const checksum = async (extra: string[]) =>
      find(await helm.template({ chart: 'user-service' }, extra), 'Deployment').spec.template
        .metadata.annotations['checksum/config'];
    expect(await checksum(['--set', 'logLevel=debug'])).not.toBe(await checksum([]));
  });

  it('when two releases of a chart share a namespace, then none of their object names collide', async () => {
    for (const chart of SERVICE_CHARTS) {
      const names = async (release: string) =>
        (await helm.template({ chart, valuesFile: 'ci/production-values.yaml' }, [], release)).map(
          (o) => `${o.kind}/${o.metadata.name}`,
        );
      const [blue, green] = [await names('blue'), await names('green')];
      expect(blue.length).toBeGreaterThan(8);
      expect(blue.filter((name) => green.includes(name))).toEqual([]);
    }
  });

  it('user-service: helm test runs the live-install check in its own image, with the addresses its values give', async () => {
    const env = (objects: K8sObject[]) =>
      Object.fromEntries(
        (
          find(objects, 'Pod', '-signup-flow-test').spec.containers[0].env as Array<{
            name: string;
            value: string;
          }>
        ).map(({ name, value }) => [name, value]),
      );
    const defaults = output('user-service', 'defaults');
    const pod = find(defaults, 'Pod', '-signup-flow-test');
    expect(pod.metadata.annotations?.['helm.sh/hook']).toBe('test');
    expect(pod.spec.containers[0].command).toEqual(['node', 'dist/cli/check-signup-flow.js']);
    expect(pod.spec.containers[0].image).toBe(
      find(defaults, 'Deployment').spec.template.spec.containers[0].image,
    );
    expect(env(defaults)).toEqual({
      USER_SERVICE_URL: 'http://signup-user-service.signup-flow.svc:80',
      MESSAGING_SERVICE_URL: 'http://messaging-service.signup-flow.svc',
      CHECK_EMAIL_DOMAIN: 'example.com',
      CHECK_TIMEOUT_MS: '60000',
    });
    expect(env(output('user-service', 'dev'))).toMatchObject({
      MAILPIT_URL: 'http://mailpit-http.mailpit.svc.cluster.local:8025',
      JAEGER_QUERY_URL: 'http://jaeger-query.observability.svc.cluster.local:16686',
    });
    const off = await helm.template({ chart: 'user-service' }, [
      '--set',
      'tests.flow.enabled=false',
    ]);
    expect(off.some((o) => o.metadata.name.endsWith('-signup-flow-test'))).toBe(false);
    expect(off.some((o) => o.metadata.name.endsWith('-test'))).toBe(true);
  });

  it('when image.tag is latest, then the values schema refuses it', async () => {
    await expect(
      helm.template({ chart: 'messaging-service' }, ['--set', 'image.tag=latest']),
    ).rejects.toThrow(/image|tag/);
  });

  it('when a value is misspelt, then the values schema refuses it', async () => {
    await expect(
      helm.template({ chart: 'user-service' }, ['--set', 'replicaCuont=3']),
    ).rejects.toThrow(/replicaCuont/);
  });

  it('when an object breaks its schema, then validation fails', () => {
    const deployment = find(output('user-service', 'defaults'), 'Deployment');
    const broken = structuredClone(deployment);
    broken.spec.template.spec.containers[0].ports[0].containerPort = 'eighty';
    expect(() => validateObject(broken)).toThrow(/containerPort/);
    const [stream] = parseManifests(
      'apiVersion: jetstream.nats.io/v1beta2\nkind: Stream\nmetadata: {name: s}\nspec: {name: S, subjects: [a], storgae: file}\n',
    );
    expect(() => validateObject(stream as K8sObject)).toThrow(/storgae|additional/);
    expect(() =>
      validateObject({ apiVersion: 'example.com/v1', kind: 'Unknown', metadata: { name: 'x' } }),
    ).toThrow(/no schema/);
  });

  it('user-service: a libuv pool of one thread per CPU of its limit, handed one argon2id hash more than that', async () => {
    const hashing = async (extra: string[]) => {
      const config = configOf(await helm.template({ chart: 'user-service' }, extra));
      return [config.UV_THREADPOOL_SIZE, config.PASSWORD_HASH_CONCURRENCY];
    };
    expect(await hashing([])).toEqual(['1', '2']);
    expect(await hashing(['--set', 'resources.limits.cpu=2'])).toEqual(['2', '3']);
    expect(await hashing(['--set', 'resources.limits.cpu=1500m'])).toEqual(['2', '3']);
    expect(await hashing(['--set', 'resources.limits.cpu=250m'])).toEqual(['1', '2']);
    // Without a CPU limit the service counts the CPUs itself, and libuv keeps its default pool.
    expect(await hashing(['--set', 'resources.limits.cpu=null'])).toEqual([undefined, undefined]);
  });

  it('user-service: the HPA scales the Deployment, which then sets no replica count', () => {
    const objects = output('user-service', 'defaults');
    const hpa = find(objects, 'HorizontalPodAutoscaler');
    expect(hpa.spec.scaleTargetRef).toEqual({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      name: find(objects, 'Deployment').metadata.name,
    });
    expect(find(objects, 'Deployment').spec.replicas).toBeUndefined();
    expect(find(output('user-service', 'dev'), 'Deployment').spec.replicas).toBe(1);
  });

  it('messaging-service with KEDA: a nats-jetstream trigger on the welcome-email consumer owns the replicas', () => {
    const objects = output('messaging-service', 'keda');
    const scaled = find(objects, 'ScaledObject');
    expect(scaled.spec.scaleTargetRef.name).toBe(find(objects, 'Deployment').metadata.name);
    const [trigger] = scaled.spec.triggers;
    expect(trigger.type).toBe('nats-jetstream');
    expect(trigger.metadata).toMatchObject({
      stream: 'USERS',
      consumer: 'messaging-service-welcome-email',
      lagThreshold: '25',
    });
    expect(find(objects, 'Deployment').spec.replicas).toBeUndefined();
    expect(output('messaging-service', 'defaults').some((o) => o.kind === 'ScaledObject')).toBe(
      false,
    );
  });

  it('with NACK: streams on file storage with 3 replicas, the consumer as the service defines it, no provisioning in the pods', () => {
    const users = output('user-service', 'nack');
    const messaging = output('messaging-service', 'nack');
    for (const [objects, name, subject] of [
      [users, 'USERS', 'users.>'],
      [messaging, 'DLQ', 'dlq.>'],
    ] as const) {
      expect(find(objects, 'Stream').spec).toMatchObject({
        name,
        subjects: [subject],
        storage: 'file',
        replicas: 3,
      });
    }
    const consumer = find(messaging, 'Consumer');
    expect(consumer.spec).toMatchObject({
      streamName: 'USERS',
      durableName: 'messaging-service-welcome-email',
      filterSubject: 'users.created',
      ackPolicy: 'explicit',
      ackWait: '30000ms',
      // As the service creates it itself (welcomeEmailConsumerConfig): the server never gives up.
      maxDeliver: -1,
      replicas: 3,
    });
    expect(consumer.spec.backoff).toBeUndefined();
    expect(configOf(messaging).CONSUMER_ACK_WAIT_MS).toBe('30000');
    expect(configOf(users).NATS_PROVISION).toBe('false');
    expect(configOf(messaging).NATS_PROVISION).toBe('false');
    expect(configOf(output('user-service', 'defaults')).NATS_PROVISION).toBe('true');
  });

  it('with ServiceMonitor on: scraped on /metrics and labelled for kube-prometheus-stack, with alert rules', () => {
    for (const chart of SERVICE_CHARTS) {
      const objects = output(chart, 'servicemonitor');
      const monitor = find(objects, 'ServiceMonitor');
      expect(monitor.metadata.labels?.release).toBe('kps');
      expect(monitor.spec.endpoints[0]).toMatchObject({ port: 'http', path: '/metrics' });
      const rule = find(objects, 'PrometheusRule');
      expect(rule.metadata.labels?.release).toBe('kps');
      const exprs = rule.spec.groups
        .flatMap((g: { rules: { expr: string }[] }) => g.rules.map((r) => r.expr))
        .join('\n');
      expect(exprs).not.toMatch(/\{\{|TODO|CHANGEME/);
      expect(exprs).toContain('job="signup-');
      expect(exprs).toContain('signupflow_http_server_request_duration_seconds_count');
    }
    const alerts = (chart: string) =>
      find(output(chart, 'servicemonitor'), 'PrometheusRule')
        .spec.groups.flatMap((g: { rules: { alert?: string; expr: string }[] }) => g.rules)
        .filter((r: { alert?: string }) => r.alert)
        .map((r: { expr: string }) => r.expr)
        .join('\n');
    expect(alerts('user-service')).toContain('signupflow_outbox_oldest_pending_age_seconds');
    const messagingAlerts = alerts('messaging-service');
    expect(messagingAlerts).toContain('signupflow_consumer_pending_messages');
    expect(messagingAlerts).toContain('signupflow_dlq_messages');
    expect(messagingAlerts).toContain('signupflow:signup_to_email_slow_ratio:rate1h');
    expect(output('user-service', 'defaults').some((o) => o.kind === 'ServiceMonitor')).toBe(false);
  });

  it('with NATS TLS: the CA, the client certificate and its key mounted read-only from their Secret, and named to the service', () => {
    for (const chart of SERVICE_CHARTS) {
      const deployment = find(output(chart, 'tls'), 'Deployment');
      const app = container(deployment);
      const env = Object.fromEntries(
        app.env.map((e: { name: string; value?: string }) => [e.name, e.value]),
      );
      expect(env).toMatchObject({
        NATS_TLS_CA: '/etc/nats-tls/ca.crt',
        NATS_TLS_CERT: '/etc/nats-tls/tls.crt',
        NATS_TLS_KEY: '/etc/nats-tls/tls.key',
      });
      expect(app.volumeMounts).toContainEqual({
        name: 'nats-tls',
        mountPath: '/etc/nats-tls',
        readOnly: true,
      });
      expect(deployment.spec.template.spec.volumes).toContainEqual(
        expect.objectContaining({
          name: 'nats-tls',
          secret: expect.objectContaining({ secretName: `${chart}-nats-tls` }),
        }),
      );
      expect(
        container(find(output(chart, 'defaults'), 'Deployment')).env.map(
          (e: { name: string }) => e.name,
        ),
      ).not.toContain('NATS_TLS_CA');
    }
    const previous = container(find(output('user-service', 'tls'), 'Deployment')).env.find(
      (e: { name: string }) => e.name === 'JWT_SECRET_PREVIOUS',
    );
    expect(previous.valueFrom.secretKeyRef).toEqual({
      name: 'user-service-jwt',
      key: 'previous-secret',
    });
  });

  it('production-like: pinned digest, NATS credentials mounted from a Secret, two pods always up', () => {
    const objects = output('user-service', 'production');
    const app = container(find(objects, 'Deployment'));
    expect(app.image).toMatch(/@sha256:[a-f0-9]{64}$/);
    expect(app.env.find((e: { name: string }) => e.name === 'NATS_CREDS')?.value).toBe(
      '/etc/nats-creds/nats.creds',
    );
    expect(find(objects, 'PodDisruptionBudget').spec.minAvailable).toBe(2);
    const volumes = find(objects, 'Deployment').spec.template.spec.volumes;
    expect(volumes).toContainEqual(expect.objectContaining({ name: 'nats-creds' }));
  });
});
