import { once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll } from 'vitest';

/** OTLP's span kind numbers (the protobuf enum reserves 0 for "unspecified", unlike the API's). */
export const OTLP_SPAN_KIND = { server: 2, client: 3 } as const;

/** One OTLP/HTTP export request as it arrived. */
export interface ReceivedExport {
  path: string;
  contentType: string;
  body: Buffer;
}

interface OtlpAnyValue {
  stringValue?: string;
  intValue?: string | number;
  boolValue?: boolean;
}
interface OtlpKeyValue {
  key: string;
  value: OtlpAnyValue;
}
/** A span from an OTLP/JSON export, with its resource and scope flattened in. */
export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  scope: string;
  attributes: Record<string, unknown>;
  resource: Record<string, unknown>;
}
interface OtlpTraceExport {
  resourceSpans?: Array<{
    resource?: { attributes?: OtlpKeyValue[] };
    scopeSpans?: Array<{
      scope?: { name?: string };
      spans?: Array<
        Omit<ReceivedSpan, 'scope' | 'attributes' | 'resource'> & {
          attributes?: OtlpKeyValue[];
        }
      >;
    }>;
  }>;
}

function flatten(attributes: OtlpKeyValue[] = []): Record<string, unknown> {
  return Object.fromEntries(
    attributes.map(({ key, value }) => [
      key,
      value.stringValue ?? value.intValue ?? value.boolValue,
    ]),
  );
}

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * A minimal OTLP/HTTP collector on a free loopback port that keeps what it receives, stopped
 * after the test file. Answers every export with success in the request's own encoding.
 */
export async function startOtlpReceiver() {
  const received: ReceivedExport[] = [];
  const server = createServer(async (request, response) => {
    const contentType = request.headers['content-type'] ?? '';
    received.push({ path: request.url ?? '', contentType, body: await readBody(request) });
    response.writeHead(200, { 'content-type': contentType });
    response.end(contentType.includes('json') ? '{}' : undefined);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    /** Forgets what was received so far. */
    clear: () => {
      received.length = 0;
    },
    exports: (): readonly ReceivedExport[] => received,
    /** Every span of every OTLP/JSON trace export received. */
    spans(): ReceivedSpan[] {
      return received
        .filter((entry) => entry.path === '/v1/traces' && entry.contentType.includes('json'))
        .flatMap((entry) => {
          const payload = JSON.parse(entry.body.toString('utf8')) as OtlpTraceExport;
          return (payload.resourceSpans ?? []).flatMap((resourceSpans) =>
            (resourceSpans.scopeSpans ?? []).flatMap((scopeSpans) =>
              (scopeSpans.spans ?? []).map((span) => ({
                ...span,
                scope: scopeSpans.scope?.name ?? '',
                attributes: flatten(span.attributes),
                resource: flatten(resourceSpans.resource?.attributes),
              })),
            ),
          );
        });
    },
  };
}
