import type { K8sObject } from './charts.js';

/** The recommended labels every rendered object and pod carries. */
export const RECOMMENDED_LABELS = [
  'app.kubernetes.io/name',
  'app.kubernetes.io/instance',
  'app.kubernetes.io/version',
  'app.kubernetes.io/component',
  'app.kubernetes.io/part-of',
  'app.kubernetes.io/managed-by',
] as const;

const WORKLOAD_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob', 'Pod']);

export function isWorkload(object: K8sObject): boolean {
  return WORKLOAD_KINDS.has(object.kind);
}

// biome-ignore lint/suspicious/noExplicitAny: pod specs are read field by field below
type Any = any;

function podTemplate(object: K8sObject): { labels: Record<string, string>; spec: Any } {
  switch (object.kind) {
    case 'Pod':
      return { labels: object.metadata.labels ?? {}, spec: object.spec };
    case 'CronJob':
      return {
        labels: object.spec.jobTemplate.spec.template.metadata?.labels ?? {},
        spec: object.spec.jobTemplate.spec.template.spec,
      };
    default:
      return {
        labels: object.spec.template.metadata?.labels ?? {},
        spec: object.spec.template.spec,
      };
  }
}

function missingLabels(labels: Record<string, string> | undefined): string[] {
  return RECOMMENDED_LABELS.filter((label) => !labels?.[label]);
}

/** Image references must pin something: a tag other than `latest`, or a digest. */
export function imageProblem(image: string): string | undefined {
  const [reference, digest] = image.split('@');
  if (digest !== undefined) return /^sha256:[a-f0-9]{64}$/.test(digest) ? undefined : 'bad digest';
  const lastSegment = (reference ?? '').split('/').pop() ?? '';
  const tag = lastSegment.includes(':') ? lastSegment.split(':').pop() : undefined;
  if (!tag) return 'no tag (means latest)';
  if (tag === 'latest') return 'the latest tag';
  return undefined;
}

/**
 * Everything wrong with one workload, as readable sentences; empty when it follows the policy:
 * recommended labels, no service-account token, non-root and read-only containers with every
 * capability dropped, seccomp RuntimeDefault, requests and limits, pinned images, and for the
 * long-running containers of Deployments (not their init containers) startup, liveness and
 * readiness probes.
 */
export function policyViolations(object: K8sObject): string[] {
  const where = `${object.kind} ${object.metadata.name}`;
  const problems: string[] = [];
  const { labels, spec } = podTemplate(object);
  for (const label of missingLabels(object.metadata.labels))
    problems.push(`${where}: no label ${label}`);
  for (const label of missingLabels(labels)) problems.push(`${where}: pod has no label ${label}`);

  if (spec.automountServiceAccountToken !== false) {
    problems.push(`${where}: automountServiceAccountToken is not false`);
  }
  const pod = spec.securityContext ?? {};
  if (pod.runAsNonRoot !== true) problems.push(`${where}: pod runAsNonRoot is not true`);
  if (!(Number(pod.runAsUser) > 0)) problems.push(`${where}: pod runAsUser is not a non-root UID`);

  const containers: Any[] = [
    ...(spec.initContainers ?? []).map((c: Any) => ({ ...c, init: true })),
    ...(spec.containers ?? []),
  ];
  if (!spec.containers?.length) problems.push(`${where}: no containers`);
  for (const container of containers) {
    const at = `${where} container ${container.name}`;
    const security = container.securityContext ?? {};
    if (security.allowPrivilegeEscalation !== false)
      problems.push(`${at}: allowPrivilegeEscalation is not false`);
    if (security.readOnlyRootFilesystem !== true)
      problems.push(`${at}: readOnlyRootFilesystem is not true`);
    if ((security.runAsNonRoot ?? pod.runAsNonRoot) !== true)
      problems.push(`${at}: runAsNonRoot is not true`);
    if (!security.capabilities?.drop?.includes('ALL'))
      problems.push(`${at}: capabilities do not drop ALL`);
    if (security.capabilities?.add?.length) problems.push(`${at}: adds capabilities`);
    if (security.privileged === true) problems.push(`${at}: is privileged`);
    const seccomp = security.seccompProfile?.type ?? pod.seccompProfile?.type;
    if (seccomp !== 'RuntimeDefault') problems.push(`${at}: seccomp profile is not RuntimeDefault`);

    const resources = container.resources ?? {};
    for (const key of ['cpu', 'memory']) {
      if (!resources.requests?.[key]) problems.push(`${at}: no ${key} request`);
    }
    if (!resources.limits?.memory) problems.push(`${at}: no memory limit`);
    if (!resources.limits?.cpu) problems.push(`${at}: no cpu limit`);

    const image = imageProblem(String(container.image ?? ''));
    if (image) problems.push(`${at}: image ${container.image} has ${image}`);

    if (!container.init && (object.kind === 'Deployment' || object.kind === 'StatefulSet')) {
      for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe']) {
        if (!container[probe]) problems.push(`${at}: no ${probe}`);
      }
    }
  }
  return problems;
}
