import { Match, type MsgHdrs } from '@nats-io/nats-core';
import type { TextMapGetter, TextMapSetter } from '@opentelemetry/api';

/**
 * Reads propagation fields (`traceparent`, `tracestate`, `baggage`) from NATS headers. Header
 * names are matched case-insensitively: other NATS clients canonicalise them (`Traceparent`).
 */
export const natsHeadersGetter: TextMapGetter<MsgHdrs | undefined> = {
  keys(carrier) {
    return carrier ? carrier.keys() : [];
  },
  get(carrier, key) {
    if (!carrier?.has(key, Match.IgnoreCase)) return undefined;
    const values = carrier.values(key, Match.IgnoreCase);
    return values.length === 1 ? values[0] : values;
  },
};

/** Writes propagation fields into NATS headers, replacing any value already there. */
export const natsHeadersSetter: TextMapSetter<MsgHdrs> = {
  set(carrier, key, value) {
    carrier.set(key, value, Match.IgnoreCase);
  },
};
