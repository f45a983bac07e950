/**
 * The charts' NACK objects against the services' own JetStream definitions (each service's
 * `src/messaging/jetstream.ts`): with `nack.enabled` the pods stop provisioning, so a field that
 * differs here would be a stream or consumer the service never meant.
 */
import type { ConsumerConfig, StreamConfig } from '@nats-io/jetstream';
import { STREAMS } from '@signup-flow/events';
import {
  dlqStreamConfig,
  welcomeEmailConsumerConfig,
} from '@signup-flow/messaging-service/jetstream';
import { usersStreamConfig } from '@signup-flow/user-service/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HelmRunner, type K8sObject, type ServiceChart } from './support/charts.js';
import { HELM_INSTALL_HINT, helmBinary, requireTool } from './support/tools.js';

const canRun = requireTool('helm v4.3.1', helmBinary, HELM_INSTALL_HINT);

const NANOS_PER_MS = 1_000_000;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A NACK (Go) duration such as "168h", "604800s" or "30000ms", in milliseconds. */
function durationMs(text: string): number {
  let total = 0;
  const rest = text.replace(/(\d+(?:\.\d+)?)(ms|s|m|h)/g, (_all, amount: string, unit: string) => {
    total += Number(amount) * (UNIT_MS[unit] as number);
    return '';
  });
  if (rest !== '' || text === '') throw new Error(`not a duration: ${text}`);
  return total;
}

type Spec = Record<string, unknown>;

/** JetStream's field, NACK's field, and how NACK writes the value. */
type FieldMap = Array<[string, string, ((value: unknown) => unknown)?]>;

const fromNanos = (value: unknown) => (value as number) / NANOS_PER_MS;

const STREAM_FIELDS: FieldMap = [
  ['name', 'name'],
  ['description', 'description'],
  ['subjects', 'subjects'],
  ['storage', 'storage'],
  ['num_replicas', 'replicas'],
  ['retention', 'retention'],
  ['discard', 'discard'],
  ['max_age', 'maxAge', fromNanos],
  ['duplicate_window', 'duplicateWindow', fromNanos],
  ['deny_delete', 'denyDelete'],
  ['deny_purge', 'denyPurge'],
  ['allow_direct', 'allowDirect'],
];

const CONSUMER_FIELDS: FieldMap = [
  ['durable_name', 'durableName'],
  ['description', 'description'],
  ['filter_subject', 'filterSubject'],
  ['deliver_policy', 'deliverPolicy'],
  ['ack_policy', 'ackPolicy'],
  ['ack_wait', 'ackWait', fromNanos],
  ['max_deliver', 'maxDeliver'],
  ['max_ack_pending', 'maxAckPending'],
];

/** Where NACK says how to reach JetStream, not what to create. */
const NACK_ONLY = new Set(['account', 'streamName', 'replicas']);

/**
 * The NACK spec written in JetStream's terms, and the fields neither side maps: every field the
 * code sets must be in the spec with the same value, and the spec may hold nothing else.
 */
function compare(code: StreamConfig | ConsumerConfig, spec: Spec, fields: FieldMap) {
  const expected: Spec = {};
  const actual: Spec = {};
  const codeFields = Object.entries(code).filter(
    // An empty BackOff list is NACK's default: no field.
    ([field, value]) => !(field === 'backoff' && Array.isArray(value) && value.length === 0),
  );
  const unmapped = codeFields
    .map(([field]) => field)
    .filter((field) => !fields.some(([jetstream]) => jetstream === field));
  for (const [jetstream, nack, convert] of fields) {
    const value = (code as Record<string, unknown>)[jetstream];
    if (value === undefined) continue;
    expected[nack] = convert ? convert(value) : value;
    const written = spec[nack];
    actual[nack] = convert && typeof written === 'string' ? durationMs(written) : written;
  }
  const extra = Object.keys(spec).filter(
    (field) => !NACK_ONLY.has(field) && !fields.some(([, nack]) => nack === field),
  );
  return { expected, actual, unmapped, extra };
}

/** What a chart's NACK object must be: the code's definition, every field mapped, none added. */
function expectSameDefinition(code: StreamConfig | ConsumerConfig, spec: Spec, fields: FieldMap) {
  const result = compare(code, spec, fields);
  expect(result.unmapped, 'fields the code sets that the test does not map').toEqual([]);
  expect(result.extra, 'fields only NACK sets').toEqual([]);
  expect(result.actual).toEqual(result.expected);
}

function configMap(objects: K8sObject[]): Record<string, string> {
  const found = objects.find((o) => o.kind === 'ConfigMap');
  if (!found) throw new Error('no ConfigMap rendered');
  return found.data as Record<string, string>;
}

function only(objects: K8sObject[], kind: string): K8sObject {
  const found = objects.filter((o) => o.kind === kind);
  expect(found, kind).toHaveLength(1);
  return found[0] as K8sObject;
}

describe.runIf(canRun)('the charts’ NACK objects and the services’ JetStream definitions', () => {
  let helm: HelmRunner;
  beforeAll(async () => {
    helm = await HelmRunner.create(helmBinary as string);
  }, 120_000);
  afterAll(() => helm?.dispose());

  // Defaults and production-like settings, so a value that only one of them sets is compared too.
  const shapes = [[], ['--values', 'ci/production-values.yaml']];

  /** The chart with NACK on, in one of the shapes: its objects and its ConfigMap's variables. */
  async function renderWithNack(chart: ServiceChart, extra: string[]) {
    const objects = await helm.template(
      { chart, valuesFile: 'ci/nack-values.yaml' },
      withChartPath(helm, chart, extra),
    );
    return { objects, env: configMap(objects) };
  }

  it.each(shapes)(
    'user-service %s: the USERS Stream is the stream the service creates',
    async (...extra) => {
      const { objects, env } = await renderWithNack('user-service', extra);
      const code = usersStreamConfig({
        replicas: Number(env.USERS_STREAM_REPLICAS),
        maxAgeMs: Number(env.USERS_STREAM_MAX_AGE_SECONDS) * 1000,
        duplicateWindowMs: Number(env.USERS_STREAM_DUPLICATE_WINDOW_SECONDS) * 1000,
      });
      expectSameDefinition(code, only(objects, 'Stream').spec, STREAM_FIELDS);
    },
  );

  it.each(shapes)(
    'messaging-service %s: the DLQ Stream and the welcome-email Consumer are those the service creates',
    async (...extra) => {
      const { objects, env } = await renderWithNack('messaging-service', extra);
      const dlq = dlqStreamConfig({
        replicas: Number(env.DLQ_REPLICAS),
        maxAgeMs: Number(env.DLQ_MAX_AGE_DAYS) * 24 * 3_600_000,
      });
      expectSameDefinition(dlq, only(objects, 'Stream').spec, STREAM_FIELDS);

      const consumer = welcomeEmailConsumerConfig({
        ackWaitMs: Number(env.CONSUMER_ACK_WAIT_MS),
        maxAckPending: Number(env.CONSUMER_MAX_ACK_PENDING),
      });
      const consumerObject = only(objects, 'Consumer');
      expectSameDefinition(consumer, consumerObject.spec, CONSUMER_FIELDS);
      expect(consumerObject.spec.streamName).toBe(STREAMS.users);
    },
  );

  it('messaging-service with KEDA: the trigger watches the consumer the service reads', async () => {
    const objects = await helm.template({
      chart: 'messaging-service',
      valuesFile: 'ci/keda-values.yaml',
    });
    const trigger = only(objects, 'ScaledObject').spec.triggers[0].metadata;
    const code = welcomeEmailConsumerConfig({ ackWaitMs: 1000, maxAckPending: 1 });
    expect({ stream: trigger.stream, consumer: trigger.consumer }).toEqual({
      stream: STREAMS.users,
      consumer: code.durable_name,
    });
  });

  it('when a NACK field drifts from the code, then the comparison shows it (the check can fail)', () => {
    const code = usersStreamConfig({ replicas: 3, maxAgeMs: 3_600_000, duplicateWindowMs: 60_000 });
    const spec = {
      name: 'USERS',
      description: code.description,
      subjects: ['users.>'],
      storage: 'file',
      replicas: 3,
      retention: 'limits',
      discard: 'old',
      maxAge: '2h',
      duplicateWindow: '1m',
      denyDelete: true,
      denyPurge: true,
      allowDirect: true,
      maxMsgs: 10,
    };
    const result = compare(code, spec, STREAM_FIELDS);
    expect(result.extra).toEqual(['maxMsgs']);
    expect(result.actual).not.toEqual(result.expected);
    expect(result.actual.maxAge).toBe(7_200_000);
    expect(result.expected.maxAge).toBe(3_600_000);
  });
});

/** `--values ci/x.yaml` resolved inside the runner's copy of the chart. */
function withChartPath(helm: HelmRunner, chart: string, extra: string[]): string[] {
  return extra.map((arg) => (arg.startsWith('ci/') ? `${helm.chartsDir}/${chart}/${arg}` : arg));
}
