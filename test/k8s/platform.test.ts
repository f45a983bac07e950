import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NATS_PERMISSIONS } from '@signup-flow/nats';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { type K8sObject, parseManifests, REPO_ROOT } from './support/charts.js';
import { isWorkload, policyViolations } from './support/policy.js';
import { validateObject } from './support/schemas.js';
import { strictDecode, withStrictDecoder } from './support/strict.js';
import { locateProgram } from './support/tools.js';

const read = (path: string) => readFileSync(join(REPO_ROOT, path), 'utf8');
const manifests = (path: string) => parseManifests(read(path));
const values = (path: string) => parse(read(path), { uniqueKeys: true });
const chartValues = (chart: string) => values(`charts/${chart}/values.yaml`);

// biome-ignore lint/suspicious/noExplicitAny: values files are read field by field
type Any = any;

describe('the platform manifests in k8s/', () => {
  const ours = [
    'k8s/namespaces.yaml',
    'k8s/priority-classes.yaml',
    'k8s/jaeger/jaeger.yaml',
    'k8s/mailpit/mailpit.yaml',
    'k8s/dev/secrets.yaml',
    'k8s/postgres/clusters.yaml',
    'k8s/postgres/clusters-dev.yaml',
  ];

  it.each(ours)('when %s is validated, then every object matches its Kubernetes schema', (path) => {
    const objects = manifests(path);
    expect(objects.length).toBeGreaterThan(0);
    for (const object of objects) {
      if (object.kind === 'Secret') expect(object.metadata.namespace).toBe('signup-flow');
      else validateObject(object);
    }
  });

  it('when a chart’s values name a PriorityClass, then k8s/ creates it (the API server refuses pods with an unknown one)', () => {
    const created = new Set(
      manifests('k8s/priority-classes.yaml')
        .filter((object) => object.kind === 'PriorityClass')
        .map((object) => object.metadata.name),
    );
    const named = readdirSync(join(REPO_ROOT, 'charts'))
      .flatMap((chart) => {
        const ci = join(REPO_ROOT, 'charts', chart, 'ci');
        const files = existsSync(ci)
          ? readdirSync(ci).map((file) => `charts/${chart}/ci/${file}`)
          : [];
        return [`charts/${chart}/values.yaml`, ...files].filter((file) =>
          existsSync(join(REPO_ROOT, file)),
        );
      })
      .map((file) => (values(file) as { priorityClassName?: string }).priorityClassName)
      .filter((name): name is string => Boolean(name));
    expect(named.length).toBeGreaterThan(0);
    for (const name of named) expect(created, name).toContain(name);
  });

  it.runIf(locateProgram('go', ['version']))(
    'when decoded strictly like the API server, then no object has an unknown or mistyped field',
    async () => {
      const objects = ours.flatMap(manifests);
      const result = await withStrictDecoder((decoder) => strictDecode(decoder, objects));
      expect(result.errors).toEqual([]);
      // Only CloudNativePG's Clusters are left to their own schema (and to the API server tests).
      expect(result.skipped.every((kind) => kind.startsWith('postgresql.cnpg.io/'))).toBe(true);
      expect(result.ok.length + result.skipped.length).toBe(objects.length);
      expect(result.ok.length).toBeGreaterThan(objects.length / 2);
    },
    180_000,
  );

  it('when the workloads are checked, then Jaeger and Mailpit follow the same policy as ours', () => {
    const workloads = ours.flatMap(manifests).filter(isWorkload);
    expect(workloads.map((w) => w.metadata.name).sort()).toEqual(['jaeger', 'mailpit']);
    expect(workloads.flatMap(policyViolations)).toEqual([]);
  });

  it('when the charts talk to the platform, then the addresses match the platform services', () => {
    const services = [
      ...manifests('k8s/jaeger/jaeger.yaml'),
      ...manifests('k8s/mailpit/mailpit.yaml'),
    ]
      .filter((o) => o.kind === 'Service')
      .flatMap((o: K8sObject) =>
        o.spec.ports.map(
          (port: { port: number }) =>
            `${o.metadata.name}.${o.metadata.namespace}.svc.cluster.local:${port.port}`,
        ),
      );
    const otlp = new URL(chartValues('user-service').otel.endpoint);
    expect(services).toContain(otlp.host);
    expect(new URL(chartValues('messaging-service').otel.endpoint).host).toBe(otlp.host);
    expect(services).toContain(new URL(chartValues('messaging-service').smtp.url).host);
    // NetworkPolicy egress admits the pod ports behind those Services.
    expect(chartValues('user-service').networkPolicy.ports.otlp).toEqual(
      expect.arrayContaining([4317, 4318]),
    );
  });

  it('when CloudNativePG creates the database Secrets, then they are the ones the charts read', () => {
    for (const file of ['k8s/postgres/clusters.yaml', 'k8s/postgres/clusters-dev.yaml']) {
      const clusters = manifests(file);
      expect(clusters.map((c) => c.kind)).toEqual(['Cluster', 'Cluster']);
      for (const chart of ['user-service', 'messaging-service']) {
        const { existingSecret, key } = chartValues(chart).database;
        const cluster = clusters.find((c) => `${c.metadata.name}-app` === existingSecret);
        expect(cluster, `${file}: a Cluster whose app Secret is ${existingSecret}`).toBeTruthy();
        expect(key).toBe('uri');
        expect(cluster?.apiVersion).toBe('postgresql.cnpg.io/v1');
        expect(cluster?.metadata.namespace).toBe('signup-flow');
        expect(cluster?.spec.bootstrap.initdb).toMatchObject({
          database: expect.any(String),
          owner: expect.any(String),
        });
      }
      const databases = clusters.map((c) => c.spec.bootstrap.initdb.database);
      expect(new Set(databases).size).toBe(2);
      expect(clusters.map((c) => c.spec.instances)).toEqual(
        file.endsWith('-dev.yaml') ? [1, 1] : [3, 3],
      );
    }
  });

  it('when a production PostgreSQL primary fails over, then no acknowledged write is lost: every Cluster replicates synchronously to at least one standby', () => {
    for (const cluster of manifests('k8s/postgres/clusters.yaml')) {
      const synchronous = cluster.spec.postgresql?.synchronous;
      expect(synchronous, `${cluster.metadata.name}: spec.postgresql.synchronous`).toMatchObject({
        method: expect.stringMatching(/^(any|first)$/),
        dataDurability: 'required',
      });
      expect(synchronous.number).toBeGreaterThanOrEqual(1);
      expect(synchronous.number).toBeLessThan(cluster.spec.instances);
    }
  });

  it('when NATS is installed with k8s/nats/values.yaml, then each service has its own user with exactly NATS_PERMISSIONS, its password from a Secret', () => {
    const nats: Any = values('k8s/nats/values.yaml');
    const users: Array<{ user: string; password: string; permissions?: unknown }> =
      nats.config.merge.authorization.users;
    for (const [service, permissions] of Object.entries(NATS_PERMISSIONS)) {
      const entry = users.find((user) => user.user === service);
      expect(entry?.permissions, service).toEqual(permissions);
      const variable = /^<< \$(\w+) >>$/.exec(entry?.password ?? '')?.[1] as string;
      expect(variable, `${service}'s password is a variable`).toBeDefined();
      expect(nats.container.env[variable].valueFrom.secretKeyRef).toEqual({
        name: 'nats-users',
        key: service,
      });
    }
  });

  it('when NATS is installed with k8s/nats/values.yaml, then JetStream runs 3 nodes on PVCs with sync_interval always', () => {
    const nats: Any = values('k8s/nats/values.yaml');
    expect(nats.config.cluster).toMatchObject({ enabled: true, replicas: 3 });
    expect(nats.config.jetstream.fileStore).toMatchObject({
      enabled: true,
      pvc: { enabled: true },
    });
    expect(nats.config.jetstream.memoryStore.enabled).toBe(false);
    expect(nats.config.jetstream.merge.sync_interval).toBe('always');
    const dev: Any = values('k8s/nats/values-dev.yaml');
    expect(dev.config.cluster.enabled).toBe(false);
    expect(dev.config.jetstream.merge.sync_interval).toBe('always');
    // Release "nats" in namespace "nats": the address the charts and KEDA use.
    expect(chartValues('user-service').nats.url).toBe('nats://nats.nats.svc.cluster.local:4222');
    expect(chartValues('messaging-service').keda.natsServerMonitoringEndpoint).toBe(
      `nats-headless.nats.svc.cluster.local:${nats.config.monitor.port}`,
    );
    // Stream replicas in the production-like charts match the cluster size.
    expect(chartValues('user-service').stream.replicas).toBe(nats.config.cluster.replicas);
    expect(chartValues('messaging-service').dlq.replicas).toBe(nats.config.cluster.replicas);
  });

  it('when kube-prometheus-stack is installed, then it selects our monitors and rules and gets the dashboard and Jaeger', () => {
    const kps: Any = values('k8s/monitoring/kube-prometheus-stack-values.yaml');
    for (const chart of ['user-service', 'messaging-service']) {
      expect(chartValues(chart).serviceMonitor.labels).toEqual({
        release: 'kube-prometheus-stack',
      });
      expect(chartValues(chart).prometheusRule.labels).toEqual({
        release: 'kube-prometheus-stack',
      });
    }
    expect(kps.prometheus.prometheusSpec.ruleNamespaceSelector).toEqual({});
    expect(kps.grafana.additionalDataSources[0]).toMatchObject({
      type: 'jaeger',
      url: expect.stringContaining('jaeger-query.observability'),
    });
    const provider = kps.grafana.dashboardProviders['signup-flow-provider.yaml'].providers[0];
    expect(Object.keys(kps.grafana.dashboards)).toContain(provider.name);
    const dashboard = JSON.parse(read('k8s/monitoring/dashboards/signup-flow.json'));
    expect(dashboard.uid).toBe('signup-flow');
    expect(dashboard.panels.length).toBeGreaterThan(0);
  });

  it('when the local cluster is created, then it has three workers in three zones', () => {
    const kind: Any = values('k8s/kind-cluster.yaml');
    expect(kind.apiVersion).toBe('kind.x-k8s.io/v1alpha4');
    const workers = kind.nodes.filter((n: Any) => n.role === 'worker');
    expect(new Set(workers.map((w: Any) => w.labels['topology.kubernetes.io/zone'])).size).toBe(3);
  });
});
