import type { AuditEvent } from './control-plane.js';

const WRITES = new Set(['create', 'update', 'patch', 'delete', 'deletecollection']);

/**
 * Answers that are routine in a working cluster, not refusals: a conflict (optimistic concurrency,
 * or something created twice by racing controllers) and a write to what was just deleted.
 */
function routine(event: AuditEvent): boolean {
  const code = event.responseStatus?.code ?? 0;
  if (code === 409) return true;
  if (code === 404 && event.verb !== 'create') return true;
  // The API server cannot publish its own loopback address in the `kubernetes` Endpoints
  // (../shared/TOOLS.md, host facts); a real cluster's advertise address is routable.
  return (
    code === 422 &&
    event.user.username === 'system:apiserver' &&
    event.objectRef?.namespace === 'default' &&
    event.objectRef?.name === 'kubernetes'
  );
}

function describe(event: AuditEvent): string {
  const ref = event.objectRef ?? {};
  const object = [ref.namespace, `${ref.resource ?? '?'}/${ref.name ?? ''}`]
    .filter(Boolean)
    .join('/');
  return `${event.verb} ${object} by ${event.user.username}`;
}

/**
 * What the API server refused or warned about in these audit events, one line each: any write
 * answered with an error (admission, RBAC, validation), and any Pod Security violation it recorded
 * (the `audit` mode annotates pods and the workloads that template them).
 */
export function auditFindings(events: readonly AuditEvent[], namespace?: string): string[] {
  const findings: string[] = [];
  for (const event of events) {
    if (namespace !== undefined && event.objectRef?.namespace !== namespace) continue;
    const code = event.responseStatus?.code ?? 0;
    if (WRITES.has(event.verb) && code >= 400 && !routine(event)) {
      findings.push(
        `${describe(event)}: ${code} ${event.responseStatus?.message ?? event.responseStatus?.reason ?? ''}`.trim(),
      );
    }
    for (const [key, value] of Object.entries(event.annotations ?? {})) {
      if (key.startsWith('pod-security.kubernetes.io/') && key.endsWith('-violations')) {
        findings.push(`${describe(event)}: Pod Security ${key}: ${value}`);
      }
    }
  }
  return findings;
}
