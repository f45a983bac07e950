import { headers, Match } from '@nats-io/nats-core';
import { describe, expect, it } from 'vitest';
import { natsHeadersGetter, natsHeadersSetter } from './propagator.js';

describe('natsHeadersGetter', () => {
  it('when a header is written with another case, then it is still found', () => {
    const carrier = headers();
    carrier.set('Traceparent', '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');

    expect(natsHeadersGetter.get(carrier, 'traceparent')).toBe(
      '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    );
  });

  it('when a header is absent or there are no headers, then it reads undefined', () => {
    expect(natsHeadersGetter.get(headers(), 'traceparent')).toBeUndefined();
    expect(natsHeadersGetter.get(undefined, 'traceparent')).toBeUndefined();
    expect(natsHeadersGetter.keys(undefined)).toEqual([]);
  });

  it('when a header repeats, then all its values are returned', () => {
    const carrier = headers();
    carrier.append('baggage', 'a=1');
    carrier.append('baggage', 'b=2');

    expect(natsHeadersGetter.get(carrier, 'baggage')).toEqual(['a=1', 'b=2']);
  });
});

describe('natsHeadersSetter', () => {
  it('when a field is set twice, then the second value replaces the first', () => {
    const carrier = headers();
    natsHeadersSetter.set(carrier, 'traceparent', 'first');
    natsHeadersSetter.set(carrier, 'Traceparent', 'second');

    expect(carrier.values('traceparent', Match.IgnoreCase)).toEqual(['second']);
  });
});
