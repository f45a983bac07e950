import { waitUntil } from './ports.js';

/** A span as drawn: where it sits in the trace and how long it took. */
export interface WaterfallSpan {
  spanId: string;
  parentSpanId?: string;
  service: string;
  name: string;
  startNs: bigint;
  endNs: bigint;
}

/** OTLP/JSON as Jaeger's `/api/v3/traces/{id}` answers (only what is drawn). */
interface OtlpTrace {
  result: {
    resourceSpans: Array<{
      resource: { attributes: Array<{ key: string; value: { stringValue?: string } }> };
      scopeSpans: Array<{
        spans: Array<{
          spanId: string;
          parentSpanId?: string;
          name: string;
          startTimeUnixNano: string;
          endTimeUnixNano: string;
        }>;
      }>;
    }>;
  };
}

export function spansOf(trace: OtlpTrace): WaterfallSpan[] {
  return trace.result.resourceSpans.flatMap((resourceSpans) => {
    const service =
      resourceSpans.resource.attributes.find((attribute) => attribute.key === 'service.name')?.value
        .stringValue ?? '?';
    return resourceSpans.scopeSpans.flatMap((scope) =>
      scope.spans.map((span) => ({
        spanId: span.spanId,
        ...(span.parentSpanId ? { parentSpanId: span.parentSpanId } : {}),
        service,
        name: span.name,
        startNs: BigInt(span.startTimeUnixNano),
        endNs: BigInt(span.endTimeUnixNano),
      })),
    );
  });
}

/**
 * Waits until Jaeger holds the trace with a span from every one of `services` and no new span
 * arrived for a moment (the exporters send in batches), then returns its spans.
 */
export async function completeTrace(
  jaegerUrl: string,
  traceId: string,
  services: string[],
  timeoutMs = 30_000,
): Promise<WaterfallSpan[]> {
  let spans: WaterfallSpan[] = [];
  let stableSince = 0;
  await waitUntil(
    `the trace ${traceId} with spans from ${services.join(' and ')} in Jaeger`,
    async () => {
      const response = await fetch(`${jaegerUrl}/api/v3/traces/${traceId}`);
      if (!response.ok) return false;
      const latest = spansOf((await response.json()) as OtlpTrace);
      const changed = latest.length !== spans.length;
      spans = latest;
      if (changed) stableSince = Date.now();
      const present = new Set(spans.map((span) => span.service));
      return services.every((service) => present.has(service)) && Date.now() - stableSince >= 1_000;
    },
    timeoutMs,
    250,
  );
  return spans;
}

function milliseconds(ns: bigint): string {
  return `${(Number(ns) / 1e6).toFixed(1)} ms`;
}

/**
 * The trace as a terminal waterfall: one line per span, children under their parent in start
 * order, each with its offset from the trace's start, its duration and a bar on a shared time axis.
 */
export function renderWaterfall(spans: WaterfallSpan[], barWidth = 32): string[] {
  const [first, ...rest] = spans;
  if (!first) return [];
  let start = first.startNs;
  let end = first.endNs;
  for (const span of rest) {
    if (span.startNs < start) start = span.startNs;
    if (span.endNs > end) end = span.endNs;
  }
  const total = end - start > 0n ? end - start : 1n;
  const ids = new Set(spans.map((span) => span.spanId));
  const children = new Map<string | undefined, WaterfallSpan[]>();
  for (const span of spans) {
    // A parent outside the trace (the caller's own span) makes this a root here.
    const parent = span.parentSpanId && ids.has(span.parentSpanId) ? span.parentSpanId : undefined;
    children.set(parent, [...(children.get(parent) ?? []), span]);
  }
  const serviceWidth = Math.max(...spans.map((span) => span.service.length));
  const lines: string[] = [];
  const draw = (parent: string | undefined, depth: number) => {
    const siblings = [...(children.get(parent) ?? [])].sort((a, b) =>
      a.startNs < b.startNs ? -1 : a.startNs > b.startNs ? 1 : 0,
    );
    for (const span of siblings) {
      const from = Number(((span.startNs - start) * BigInt(barWidth)) / total);
      const length = Math.max(1, Number(((span.endNs - span.startNs) * BigInt(barWidth)) / total));
      const bar = `${' '.repeat(from)}${'█'.repeat(Math.min(length, barWidth - from))}`.padEnd(
        barWidth,
      );
      lines.push(
        `${milliseconds(span.startNs - start).padStart(10)} ${milliseconds(span.endNs - span.startNs).padStart(10)}  │${bar}│  ${span.service.padEnd(serviceWidth)}  ${'  '.repeat(depth)}${span.name}`,
      );
      draw(span.spanId, depth + 1);
    }
  };
  draw(undefined, 0);
  return [
    `${'offset'.padStart(10)} ${'duration'.padStart(10)}  ${'0'.padEnd(barWidth + 1)}${milliseconds(total)}`,
    ...lines,
  ];
}

/** Whether Jaeger serves its real UI, or the placeholder page a build from source has. */
export async function jaegerUi(jaegerUrl: string): Promise<'ui' | 'placeholder'> {
  const page = await (await fetch(`${jaegerUrl}/`)).text();
  return /not the Jaeger UI you are looking for/i.test(page) ? 'placeholder' : 'ui';
}
