import { describe, expect, it } from 'vitest';
import { renderWaterfall, type WaterfallSpan } from './trace-waterfall.js';

const MS = 1_000_000n;
const T0 = 1_700_000_000_000n * MS;

function span(
  spanId: string,
  parentSpanId: string | undefined,
  service: string,
  name: string,
  fromMs: number,
  toMs: number,
): WaterfallSpan {
  return {
    spanId,
    ...(parentSpanId ? { parentSpanId } : {}),
    service,
    name,
    startNs: T0 + BigInt(fromMs) * MS,
    endNs: T0 + BigInt(toMs) * MS,
  };
}

describe('renderWaterfall', () => {
  it('when a trace crosses two services, then each span is a line under its parent, in start order, with its offset, duration and bar', () => {
    const lines = renderWaterfall(
      [
        // Out of order on purpose, and the root's parent is the caller's span, outside the trace.
        span('c', 'b', 'messaging-service', 'smtp send', 20, 30),
        span('a', 'outside', 'user-service', 'POST /v1/users', 0, 10),
        span('b', 'a', 'messaging-service', 'process users.created', 16, 32),
        span('d', 'a', 'user-service', 'pg.query:INSERT', 2, 4),
      ],
      32,
    );

    expect(lines[0]).toMatch(/offset\s+duration\s+0\s+32\.0 ms$/);
    const rows = lines.slice(1);
    expect(rows.map((line) => line.split('│')[2]?.trim())).toEqual([
      'user-service       POST /v1/users',
      'user-service         pg.query:INSERT',
      'messaging-service    process users.created',
      'messaging-service      smtp send',
    ]);
    expect(rows[0]).toMatch(/^\s+0\.0 ms\s+10\.0 ms/);
    expect(rows[3]).toMatch(/^\s+20\.0 ms\s+10\.0 ms/);
    // 32 columns for 32 ms: the SMTP send covers columns 20 to 29.
    expect(rows[3]?.split('│')[1]).toBe(`${' '.repeat(20)}${'█'.repeat(10)}  `);
  });

  it('when the trace is empty, then nothing is drawn', () => {
    expect(renderWaterfall([])).toEqual([]);
  });
});
