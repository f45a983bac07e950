import { readFileSync } from 'node:fs';
import { ScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1';
import {
  PrometheusRule,
  ServiceMonitor,
} from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { Ajv, type ValidateFunction } from 'ajv';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { Job } from 'kubernetes-models/batch/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { PriorityClass } from 'kubernetes-models/scheduling.k8s.io/v1';
import { ConfigMap, Namespace, Pod, Service, ServiceAccount } from 'kubernetes-models/v1';
import type { K8sObject } from './charts.js';

/** A kubernetes-models class: `new Model(obj).validate()` throws on a schema error. */
type Model = new (data: never) => { validate(): void };

function modelValidator(model: Model) {
  return (object: K8sObject) => new model(object as never).validate();
}

/** A JSON schema of test/k8s/schemas, parsed. */
export function projectSchema(file: string): Record<string, unknown> {
  return JSON.parse(readFileSync(new URL(`../schemas/${file}`, import.meta.url), 'utf8'));
}

function jsonSchemaValidator(file: string) {
  const ajv = new Ajv({ allErrors: true });
  const validate: ValidateFunction = ajv.compile(projectSchema(file));
  return (object: K8sObject) => {
    if (!validate(object)) throw new Error(ajv.errorsText(validate.errors, { dataVar: 'object' }));
  };
}

/**
 * Schema validators by `apiVersion/kind`: the Kubernetes OpenAPI schemas and the KEDA and
 * prometheus-operator CRD schemas as packaged by kubernetes-models; NACK's and CloudNativePG's from
 * test/k8s/schemas (no package ships them). A kind missing here fails validation: every rendered kind needs one.
 */
export const VALIDATORS: Record<string, (object: K8sObject) => void> = {
  'v1/ConfigMap': modelValidator(ConfigMap),
  'v1/Namespace': modelValidator(Namespace),
  'v1/Pod': modelValidator(Pod),
  'v1/Service': modelValidator(Service),
  'v1/ServiceAccount': modelValidator(ServiceAccount),
  'apps/v1/Deployment': modelValidator(Deployment),
  'batch/v1/Job': modelValidator(Job),
  'policy/v1/PodDisruptionBudget': modelValidator(PodDisruptionBudget),
  'scheduling.k8s.io/v1/PriorityClass': modelValidator(PriorityClass),
  'autoscaling/v2/HorizontalPodAutoscaler': modelValidator(HorizontalPodAutoscaler),
  'networking.k8s.io/v1/NetworkPolicy': modelValidator(NetworkPolicy),
  'monitoring.coreos.com/v1/ServiceMonitor': modelValidator(ServiceMonitor),
  'monitoring.coreos.com/v1/PrometheusRule': modelValidator(PrometheusRule),
  'keda.sh/v1alpha1/ScaledObject': modelValidator(ScaledObject),
  'jetstream.nats.io/v1beta2/Stream': jsonSchemaValidator('nack-stream-v1beta2.json'),
  'jetstream.nats.io/v1beta2/Consumer': jsonSchemaValidator('nack-consumer-v1beta2.json'),
  'postgresql.cnpg.io/v1/Cluster': jsonSchemaValidator('cnpg-cluster-v1.json'),
};

/** Throws with the object's identity and the schema errors when it does not validate. */
export function validateObject(object: K8sObject): void {
  const key = `${object.apiVersion}/${object.kind}`;
  const validator = VALIDATORS[key];
  if (!validator) throw new Error(`no schema known for ${key} (${object.metadata?.name})`);
  try {
    validator(object);
  } catch (error) {
    throw new Error(`${key} ${object.metadata?.name}: ${(error as Error).message}`);
  }
}
