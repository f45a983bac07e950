import { randomBytes } from 'node:crypto';

export interface LoadOptions {
  /** The user-service, e.g. http://127.0.0.1:8080. */
  api: string;
  /** Signups started per second (open loop: the rate holds however slow the answers are). */
  rate: number;
  durationSeconds: number;
  /** At most this many requests in flight; a start that would exceed it is counted as dropped. */
  maxInFlight?: number;
  /** Called about once a second, and once at the end. */
  report: (progress: LoadProgress) => void;
  /** Called with each answer: which address signed up, when it was sent (epoch ms), the status. */
  onAnswer?: (answer: { email: string; sentAtEpochMs: number; status: number }) => void;
}

export interface LoadProgress {
  elapsedSeconds: number;
  sent: number;
  /** Answered 201. */
  created: number;
  /** Answered anything else, or failed to connect. */
  errors: number;
  /** Not sent: too many requests in flight. */
  dropped: number;
  /** Answers per second since the start. */
  rate: number;
  p50Ms: number;
  p99Ms: number;
  /** Error answers by status (or `network`), for the summary. */
  errorsByStatus: Record<string, number>;
}

/** The nearest-rank percentile (`fraction` 0.99 for p99) of values in ascending order; NaN of none. */
export function percentile(sorted: readonly number[], fraction: number): number {
  const rank = Math.ceil(fraction * sorted.length) - 1;
  return sorted[Math.max(0, Math.min(sorted.length - 1, rank))] ?? Number.NaN;
}

/**
 * Signs users up at a fixed rate for a while, so that the dashboards, the SLI and the alerts have
 * something to show. Each user gets a fresh address under example.test (RFC 2606: never delivered).
 */
export async function runLoad(options: LoadOptions): Promise<LoadProgress> {
  const run = randomBytes(3).toString('hex');
  const maxInFlight = options.maxInFlight ?? 256;
  const latencies: number[] = [];
  const errorsByStatus: Record<string, number> = {};
  let sent = 0;
  let created = 0;
  let dropped = 0;
  let inFlight = 0;
  const started = performance.now();
  const pending = new Set<Promise<void>>();

  const progress = (): LoadProgress => {
    const elapsedSeconds = (performance.now() - started) / 1000;
    const sorted = [...latencies].sort((a, b) => a - b);
    const errors = Object.values(errorsByStatus).reduce((sum, count) => sum + count, 0);
    return {
      elapsedSeconds,
      sent,
      created,
      errors,
      dropped,
      rate: elapsedSeconds > 0 ? (created + errors) / elapsedSeconds : 0,
      // 0 until the first answer, so that the progress lines print a number.
      p50Ms: sorted.length > 0 ? percentile(sorted, 0.5) : 0,
      p99Ms: sorted.length > 0 ? percentile(sorted, 0.99) : 0,
      errorsByStatus: { ...errorsByStatus },
    };
  };

  const signUp = async (n: number): Promise<void> => {
    const email = `load-${run}-${n}@example.test`;
    const sentAtEpochMs = Date.now();
    const began = performance.now();
    try {
      const response = await fetch(`${options.api}/v1/users`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          email,
          password: 'load test password',
          name: `Load ${n}`,
        }),
      });
      await response.arrayBuffer();
      latencies.push(performance.now() - began);
      options.onAnswer?.({ email, sentAtEpochMs, status: response.status });
      if (response.status === 201) created++;
      else errorsByStatus[response.status] = (errorsByStatus[response.status] ?? 0) + 1;
    } catch {
      errorsByStatus.network = (errorsByStatus.network ?? 0) + 1;
    }
  };

  const total = Math.round(options.rate * options.durationSeconds);
  let nextReport = 1;
  for (let n = 1; n <= total; n++) {
    // Start n is due at (n - 1) / rate seconds: no drift from slow timers or slow answers.
    const due = started + ((n - 1) / options.rate) * 1000;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    if ((performance.now() - started) / 1000 >= nextReport) {
      options.report(progress());
      nextReport++;
    }
    if (inFlight >= maxInFlight) {
      dropped++;
      continue;
    }
    sent++;
    inFlight++;
    const request = signUp(n).finally(() => {
      inFlight--;
      pending.delete(request);
    });
    pending.add(request);
  }
  await Promise.all(pending);
  const summary = progress();
  options.report(summary);
  return summary;
}
