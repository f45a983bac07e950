import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chartMatrix, HelmRunner, type K8sObject, parseManifests } from './support/charts.js';
import {
  imageProblem,
  isWorkload,
  policyViolations,
  RECOMMENDED_LABELS,
} from './support/policy.js';
import { HELM_INSTALL_HINT, helmBinary, requireTool } from './support/tools.js';

const matrix = await chartMatrix();

describe('the workload policy itself', () => {
  it('when a workload breaks every rule, then each break is reported', () => {
    const [bad] = parseManifests(`
apiVersion: apps/v1
kind: Deployment
metadata: {name: bad}
spec:
  selector: {matchLabels: {a: b}}
  template:
    metadata: {labels: {a: b}}
    spec:
      containers:
        - name: app
          image: example/app:latest
          securityContext: {capabilities: {add: [NET_ADMIN]}}
`);
    const problems = policyViolations(bad as K8sObject).join('\n');
    for (const expected of [
      ...RECOMMENDED_LABELS.map((l) => `no label ${l}`),
      'automountServiceAccountToken',
      'runAsNonRoot',
      'readOnlyRootFilesystem',
      'allowPrivilegeEscalation',
      'drop ALL',
      'adds capabilities',
      'seccomp',
      'no cpu request',
      'no memory limit',
      'the latest tag',
      'no startupProbe',
      'no livenessProbe',
      'no readinessProbe',
    ]) {
      expect(problems).toContain(expected);
    }
  });

  it('when an image has no tag, latest, a tag or a digest, then only the pinned ones pass', () => {
    expect(imageProblem('registry:5000/app')).toMatch(/no tag/);
    expect(imageProblem('app:latest')).toMatch(/latest/);
    expect(imageProblem('registry:5000/app:1.2.3')).toBeUndefined();
    expect(imageProblem(`app:1@sha256:${'a'.repeat(64)}`)).toBeUndefined();
  });
});

const canRun = requireTool('helm v4.3.1', helmBinary, HELM_INSTALL_HINT);

describe.runIf(canRun)('every rendered workload', () => {
  const workloads: { where: string; object: K8sObject }[] = [];
  let helm: HelmRunner | undefined;

  beforeAll(async () => {
    helm = await HelmRunner.create(helmBinary as string);
    for (const c of matrix) {
      for (const object of await helm.template(c)) {
        if (isWorkload(object)) workloads.push({ where: `${c.chart}/${c.name}`, object });
      }
    }
  }, 180_000);
  afterAll(() => helm?.dispose());

  it('when checked, then there are Deployments, hook Jobs and test Pods among them', () => {
    const kinds = new Set(workloads.map((w) => w.object.kind));
    expect([...kinds].sort()).toEqual(['Deployment', 'Job', 'Pod']);
    // A Deployment, the migration Job and the answers test Pod each; the user-service also has the
    // live-install check's test Pod.
    const userServiceCases = matrix.filter((c) => c.chart === 'user-service').length;
    expect(workloads.length).toBe(matrix.length * 3 + userServiceCases);
  });

  it('when checked, then every one has probes, resources, the hardened securityContext, a pinned image and the recommended labels', () => {
    const problems = workloads.flatMap(({ where, object }) =>
      policyViolations(object).map((p) => `${where}: ${p}`),
    );
    expect(problems).toEqual([]);
  });

  it('when checked, then every labelled object carries all recommended labels', async () => {
    const missing: string[] = [];
    for (const c of matrix) {
      for (const object of await (helm as HelmRunner).template(c)) {
        for (const label of RECOMMENDED_LABELS) {
          if (!object.metadata.labels?.[label])
            missing.push(`${c.chart}/${c.name} ${object.kind} ${object.metadata.name}: ${label}`);
        }
      }
    }
    expect(missing).toEqual([]);
  }, 120_000);
});
