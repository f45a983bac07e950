import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { getResourceDetectors } from '@opentelemetry/auto-instrumentations-node';
import { containerDetector } from '@opentelemetry/resource-detector-container';
import {
  type DetectedResource,
  envDetector,
  hostDetector,
  osDetector,
  processDetector,
  type ResourceDetector,
  serviceInstanceIdDetector,
} from '@opentelemetry/resources';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';

interface PackageIdentity {
  name?: unknown;
  version?: unknown;
}

function nearestPackageJson(fromFile: string): PackageIdentity | undefined {
  let directory = dirname(resolve(fromFile));
  for (;;) {
    try {
      return JSON.parse(readFileSync(join(directory, 'package.json'), 'utf8')) as PackageIdentity;
    } catch {
      const parent = dirname(directory);
      if (parent === directory) return undefined;
      directory = parent;
    }
  }
}

/**
 * `service.name` and `service.version` from the package.json nearest the entry script
 * (`services/user-service/dist/main.js` → `user-service`, `0.1.0`), so a service started without
 * `OTEL_SERVICE_NAME` is still named. Runs before the environment detector, which overrides it.
 */
export const entryPackageDetector: ResourceDetector = {
  detect(): DetectedResource {
    const entry = process.argv[1];
    const identity = entry ? nearestPackageJson(entry) : undefined;
    const attributes: Record<string, string> = {};
    if (typeof identity?.name === 'string') {
      attributes[ATTR_SERVICE_NAME] = identity.name.replace(/^@[^/]+\//, '');
    }
    if (typeof identity?.version === 'string') {
      attributes[ATTR_SERVICE_VERSION] = identity.version;
    }
    return { attributes };
  },
};

/**
 * The resource detectors, in increasing precedence. By default the ones that read the local
 * machine; the cloud detectors (which call metadata endpoints) only when asked for through
 * `OTEL_NODE_RESOURCE_DETECTORS` (e.g. `all`). The environment detector comes last in both cases,
 * so `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES` (deployment environment, Kubernetes pod,
 * namespace and node from the downward API) override anything detected.
 */
export function resourceDetectors(): ResourceDetector[] {
  const detected = process.env.OTEL_NODE_RESOURCE_DETECTORS
    ? getResourceDetectors().filter((detector) => detector !== envDetector)
    : [hostDetector, osDetector, processDetector, containerDetector, serviceInstanceIdDetector];
  const wantsNone = process.env.OTEL_NODE_RESOURCE_DETECTORS?.split(',').includes('none');
  return wantsNone ? [] : [entryPackageDetector, ...detected, envDetector];
}
