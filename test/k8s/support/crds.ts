import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseManifests } from './charts.js';
import { projectSchema } from './schemas.js';

const run = promisify(execFile);

/** A module on the Go module proxy that ships CRDs, and the files in it. */
interface CrdModule {
  module: string;
  version: string;
  files: string[];
}

/**
 * The CRDs the charts use, from their projects' own modules (found to be served by the Go module
 * proxy; ../shared/TOOLS.md): prometheus-operator's ServiceMonitor and PrometheusRule, KEDA's
 * ScaledObject. The same versions as the kubernetes-models packages the render tests use.
 */
export const CRD_MODULES: CrdModule[] = [
  {
    module: 'github.com/prometheus-operator/prometheus-operator',
    version: 'v0.85.0',
    files: [
      'example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml',
      'example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml',
    ],
  },
  {
    module: 'github.com/kedacore/keda/v2',
    version: 'v2.21.0',
    files: ['config/crd/bases/keda.sh_scaledobjects.yaml'],
  },
];

/** The CRDs of {@link CRD_MODULES}, read from the Go module cache (downloaded when missing). */
export async function upstreamCrds(): Promise<string[]> {
  const documents: string[] = [];
  for (const { module, version, files } of CRD_MODULES) {
    const { stdout } = await run('go', ['mod', 'download', '-json', `${module}@${version}`], {
      timeout: 10 * 60_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    const { Dir, Error: failure } = JSON.parse(stdout) as { Dir?: string; Error?: string };
    if (!Dir) throw new Error(`cannot download ${module}@${version}: ${failure}`);
    for (const file of files) documents.push(await readFile(join(Dir, file), 'utf8'));
  }
  return documents;
}

type JsonSchema = Record<string, unknown>;

function typeOf(value: unknown): string {
  if (Number.isInteger(value)) return 'integer';
  return typeof value;
}

/**
 * A draft-07 schema as a CRD's structural OpenAPI v3 schema: `const` becomes a one-value `enum`,
 * an untyped `enum` gets its values' type, alternatives (`anyOf`) share one type stated outside
 * them, an open object or array keeps unknown fields, and a closed object (`additionalProperties: false`,
 * which structural schemas cannot say beside `properties`) is left to the API server's strict
 * field validation, which refuses unknown fields the same way.
 */
export function structuralSchema(schema: JsonSchema): JsonSchema {
  const result: JsonSchema = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === '$schema' || key === '$comment') continue;
    if (key === 'additionalProperties' && value === false) continue;
    if (key === 'const') {
      result.enum = [value];
      continue;
    }
    if (key === 'properties') {
      result.properties = Object.fromEntries(
        Object.entries(value as Record<string, JsonSchema>).map(([name, property]) => [
          name,
          structuralSchema(property),
        ]),
      );
      continue;
    }
    if (key === 'anyOf' || key === 'oneOf') {
      // Structural schemas type a value once, outside its alternatives.
      const branches = (value as JsonSchema[]).map(structuralSchema);
      const types = new Set(branches.map((branch) => branch.type));
      if (types.size !== 1 || [...types][0] === undefined) {
        throw new Error(`${key} alternatives of different types cannot be a structural schema`);
      }
      result.type = [...types][0];
      result[key] = branches.map(({ type: _hoisted, ...branch }) => branch);
      continue;
    }
    if ((key === 'items' || key === 'additionalProperties') && typeof value === 'object') {
      result[key] = structuralSchema(value as JsonSchema);
      continue;
    }
    result[key] = value;
  }
  if (result.type === undefined && Array.isArray(result.enum)) {
    result.type = typeOf(result.enum[0]);
  }
  if (result.type === undefined && result.properties) result.type = 'object';
  // An object or array the schema leaves open stays open (structural schemas prune what they do
  // not declare).
  if (result.type === 'object' && !result.properties && !result.additionalProperties) {
    result['x-kubernetes-preserve-unknown-fields'] = true;
  }
  if (result.type === 'array' && !result.items) {
    result.items = { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
  }
  return result;
}

/** A namespaced CRD whose `spec` is the project's JSON schema for that kind (test/k8s/schemas). */
function crdFromProjectSchema(options: {
  group: string;
  version: string;
  kind: string;
  plural: string;
  schemaFile: string;
}) {
  const { properties } = structuralSchema(projectSchema(options.schemaFile)) as {
    properties: { spec: JsonSchema };
  };
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${options.plural}.${options.group}`,
      annotations: {
        'signup-flow.dev/source': `built by the tests from test/k8s/schemas/${options.schemaFile}: the project's CRD module is not served here`,
      },
    },
    spec: {
      group: options.group,
      scope: 'Namespaced',
      names: {
        kind: options.kind,
        listKind: `${options.kind}List`,
        plural: options.plural,
        singular: options.kind.toLowerCase(),
      },
      versions: [
        {
          name: options.version,
          served: true,
          storage: true,
          subresources: { status: {} },
          schema: {
            openAPIV3Schema: {
              type: 'object',
              properties: {
                apiVersion: { type: 'string' },
                kind: { type: 'string' },
                metadata: { type: 'object' },
                spec: properties.spec,
                status: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
              },
            },
          },
        },
      ],
    },
  };
}

/**
 * NACK's Stream and Consumer and CloudNativePG's Cluster, whose modules the proxy refuses: built
 * from the schemas the render tests validate against, so the API server checks the same fields.
 */
export function crdsBuiltFromProjectSchemas() {
  return [
    crdFromProjectSchema({
      group: 'jetstream.nats.io',
      version: 'v1beta2',
      kind: 'Stream',
      plural: 'streams',
      schemaFile: 'nack-stream-v1beta2.json',
    }),
    crdFromProjectSchema({
      group: 'jetstream.nats.io',
      version: 'v1beta2',
      kind: 'Consumer',
      plural: 'consumers',
      schemaFile: 'nack-consumer-v1beta2.json',
    }),
    crdFromProjectSchema({
      group: 'postgresql.cnpg.io',
      version: 'v1',
      kind: 'Cluster',
      plural: 'clusters',
      schemaFile: 'cnpg-cluster-v1.json',
    }),
  ];
}

/** Every CRD the charts and k8s/ need, as one YAML stream for kubectl, and their names by origin. */
export async function allCrds(): Promise<{
  manifests: string;
  upstream: string[];
  builtHere: string[];
}> {
  const upstreamDocuments = await upstreamCrds();
  const built = crdsBuiltFromProjectSchemas();
  return {
    manifests: [...upstreamDocuments, ...built.map((crd) => JSON.stringify(crd))].join('\n---\n'),
    upstream: upstreamDocuments.flatMap((text) =>
      parseManifests(text).map((crd) => crd.metadata.name),
    ),
    builtHere: built.map((crd) => crd.metadata.name),
  };
}
