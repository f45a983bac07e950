/**
 * Drain benchmark: how fast the built messaging-service turns a backlog of UserCreated events into
 * accepted emails, with one and with two replicas, how much memory each replica holds, and the CPU
 * each email costs the service (all its threads, from /proc); with one replica, also where the
 * machine's CPU went per email (the service's threads, PostgreSQL, NATS, Jaeger, the sink).
 * Real processes (`dist/main.js`), real PostgreSQL and nats-server, an smtp-server sink that
 * accepts everything.
 *
 *   npm run build && npm run bench -w @signup-flow/messaging-service -- [--events 10000] [--concurrency 16]
 *     [--replicas 1,2] [--tracing off|on|both]
 *   (or `node services/messaging-service/bench/drain.ts` with Node 24, which runs TypeScript)
 *     [--summary file.json]
 *
 * Beside each drain it measures the two ceilings the service cannot beat on this machine in the
 * same run: how fast the SMTP sink accepts mail from a bare nodemailer pool (no ledger, no
 * JetStream), and how fast a bare JetStream consumer takes and acks the same backlog (no work).
 * `npm run bench` runs it with `--summary` and prints one table.
 */
import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { createUserCreatedEvent, encodeEvent, STREAMS, SUBJECTS } from '@signup-flow/events';
import {
  chartNodeOptions,
  freePort,
  SERVICE_BENCH_OPTIONS,
  startBenchedService,
  startBenchServers,
  startCpuAccount,
  waitUntil,
} from '@signup-flow/local-stack';
import { ensureStream } from '@signup-flow/nats';
import { usersStreamConfig } from '@signup-flow/user-service/jetstream';
import { createTransport } from 'nodemailer';
import { SMTPServer } from 'smtp-server';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '10000' },
    concurrency: { type: 'string', default: '16' },
    replicas: { type: 'string', default: '1,2' },
    /** `off`, `on` (every span exported to a real Jaeger) or `both`, to see what tracing costs. */
    tracing: { type: 'string', default: 'off' },
    ...SERVICE_BENCH_OPTIONS,
  },
});
const eventCount = Number(values.events);
const replicaCounts = String(values.replicas).split(',').map(Number);
const tracingVariants = values.tracing === 'both' ? ['off', 'on'] : [String(values.tracing)];
const CONSUMER = 'messaging-service-welcome-email';

// The heap settings the chart deploys the service with (`--node-options` overrides them).
const nodeOptions = values['node-options'] ?? (await chartNodeOptions('messaging-service'));
const servers = await startBenchServers('messaging-drain-bench', {
  withJaeger: tracingVariants.includes('on'),
});
const { dir, postgres, nats } = servers;

let accepted = 0;
let firstAt = 0;
let lastAt = 0;
const sink = new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS'],
  logger: false,
  onData(stream, _session, callback) {
    stream.on('data', () => undefined);
    stream.on('end', () => {
      accepted++;
      lastAt = performance.now();
      if (accepted === 1) firstAt = lastAt;
      callback();
    });
  },
});
const smtpPort = await freePort();
await new Promise<void>((resolve) => sink.listen(smtpPort, '127.0.0.1', resolve));

const connection = await connect({ servers: nats.url });
const jsm = await jetstreamManager(connection);
const js = jetstream(connection);
await ensureStream(
  jsm,
  usersStreamConfig({ replicas: 1, maxAgeMs: 24 * 3600_000, duplicateWindowMs: 120_000 }),
);

console.log(`NODE_OPTIONS=${nodeOptions}; publishing ${eventCount} UserCreated events…`);
for (let start = 0; start < eventCount; start += 500) {
  const batch = Array.from({ length: Math.min(500, eventCount - start) }, (_, i) => {
    const userId = randomUUID();
    return createUserCreatedEvent({
      source: '/bench',
      data: {
        userId,
        email: `bench-${start + i}@example.test`,
        name: `Bench User ${start + i}`,
        createdAt: new Date().toISOString(),
      },
    });
  });
  await Promise.all(
    batch.map((event) => js.publish(SUBJECTS.userCreated, encodeEvent(event), { msgID: event.id })),
  );
}

const mib = (bytes: number) => Number((bytes / 2 ** 20).toFixed(1));

async function drain(replicaCount: number, tracing: string) {
  // A fresh consumer replays the whole backlog; a fresh database starts an empty ledger.
  await jsm.consumers.delete(STREAMS.users, CONSUMER).catch(() => undefined);
  const database = `drain_${replicaCount}_${Date.now()}`;
  const databaseUrl = await postgres.createDatabase(database);
  accepted = 0;
  const replicas = await Promise.all(
    Array.from({ length: replicaCount }, (_, i) =>
      startBenchedService({
        service: 'messaging-service',
        label: `messaging-service-${replicaCount}-${i}-tracing-${tracing}`,
        servers,
        tracing: tracing === 'on',
        nodeOptions,
        cpuProfileDir: values['cpu-prof'],
        env: {
          DATABASE_URL: databaseUrl,
          NATS_URL: nats.url,
          SMTP_URL: `smtp://127.0.0.1:${smtpPort}`,
          MAIL_FROM: 'bench <bench@example.test>',
          SEND_CONCURRENCY: String(values.concurrency),
        },
      }),
    ),
  );
  const cpuAtStart = replicas.map((replica) => replica.cpuSeconds());
  // Where one replica's drain spent the machine's CPU, its servers' and the sink's included.
  const onlyPid = replicaCount === 1 ? replicas[0]?.pid : undefined;
  const cpuAccount = onlyPid === undefined ? undefined : startCpuAccount(onlyPid);
  await waitUntil('the backlog to drain', async () => accepted >= eventCount, 30 * 60_000, 100);
  const seconds = (lastAt - firstAt) / 1000;
  const cpuSeconds = replicas.reduce(
    (sum, replica, i) => sum + replica.cpuSeconds() - (cpuAtStart[i] ?? 0),
    0,
  );
  const cpu = cpuAccount?.();
  const perEmail = (used: number) => ((used * 1000) / accepted).toFixed(2);
  if (cpu?.machine) {
    console.log(
      `  CPU per email ${perEmail(cpu.machine.busySeconds)} ms: the service's event loop ${perEmail(cpu.eventLoop)}, its other threads ${perEmail(cpu.libuvPool + cpu.serviceOther)}, PostgreSQL ${perEmail(cpu.postgres)}, NATS ${perEmail(cpu.nats)}, Jaeger ${perEmail(cpu.jaeger)}, this benchmark (the SMTP sink) ${perEmail(cpu.bench)}; idle ${perEmail(cpu.machine.idleSeconds)}, stolen ${perEmail(cpu.machine.stealSeconds)}`,
    );
  }
  await Promise.all(replicas.map((replica) => replica.stop()));
  return {
    replicas: replicaCount,
    tracing,
    emails: accepted,
    seconds: Number(seconds.toFixed(2)),
    emailsPerSecond: Math.round((accepted - 1) / seconds),
    // Only where /proc tells: a NaN would reach the summary file as null.
    ...(Number.isFinite(cpuSeconds)
      ? { serviceCpuMsPerEmail: Number(((cpuSeconds * 1000) / accepted).toFixed(3)) }
      : {}),
    ...(cpu ? { jaegerCpuMsPerEmail: Number(perEmail(cpu.jaeger)) } : {}),
    peakRssMiB: replicas.map((replica) => mib(replica.peak().rssBytes)),
    peakHeapUsedMiB: replicas.map((replica) => mib(replica.peak().heapUsedBytes)),
  };
}

/** Mail/s the sink accepts from a nodemailer pool as large as the service's, as many in flight. */
async function smtpCeiling(messages: number): Promise<number> {
  const transport = createTransport({
    host: '127.0.0.1',
    port: smtpPort,
    secure: false,
    ignoreTLS: true,
    pool: true,
    maxConnections: Math.min(Number(values.concurrency), 10),
  });
  const before = accepted;
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: Number(values.concurrency) }, async () => {
      while (next < messages) {
        next += 1;
        await transport.sendMail({
          from: 'bench <bench@example.test>',
          to: `ceiling-${next}@example.test`,
          subject: 'Welcome to signup-flow, Bench User',
          text: 'Hello Bench User, welcome.',
          html: '<p>Hello Bench User, welcome.</p>',
        });
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  transport.close();
  return (accepted - before) / seconds;
}

/** Messages/s a bare durable pull consumer takes and acks from the same backlog, doing nothing. */
async function jetstreamCeiling(): Promise<number> {
  const durable = 'bench-bare-consumer';
  await jsm.consumers.delete(STREAMS.users, durable).catch(() => undefined);
  await jsm.consumers.add(STREAMS.users, { durable_name: durable, ack_policy: AckPolicy.Explicit });
  const consumer = await js.consumers.get(STREAMS.users, durable);
  const started = performance.now();
  let taken = 0;
  const messages = await consumer.consume({ max_messages: Number(values.concurrency) * 4 });
  for await (const message of messages) {
    message.ack();
    taken += 1;
    if (taken >= eventCount) break;
  }
  const seconds = (performance.now() - started) / 1000;
  await jsm.consumers.delete(STREAMS.users, durable);
  return taken / seconds;
}

let failed = false;
try {
  const ceilings = {
    smtpAcceptsPerSecond: await smtpCeiling(Math.min(eventCount, 3000)),
    jetstreamConsumeAckPerSecond: await jetstreamCeiling(),
  };
  console.log(
    `ceilings: the SMTP sink accepts ${ceilings.smtpAcceptsPerSecond.toFixed(0)} mails/s from a bare nodemailer pool; a bare consumer takes and acks ${ceilings.jetstreamConsumeAckPerSecond.toFixed(0)} messages/s`,
  );
  const results = [];
  for (const count of replicaCounts) {
    for (const tracing of tracingVariants) {
      console.log(`draining with ${count} replica(s), tracing ${tracing}…`);
      results.push(await drain(count, tracing));
    }
  }
  console.table(results);
  console.log(
    `(SEND_CONCURRENCY=${values.concurrency} per replica; timing from the first to the last accepted email)`,
  );
  if (values.summary) {
    await writeFile(
      values.summary,
      JSON.stringify({
        events: eventCount,
        concurrency: Number(values.concurrency),
        ceilings,
        results,
      }),
    );
  }
} catch (error) {
  failed = true;
  console.error(`benchmark failed: ${error}; logs kept in ${dir}`);
  process.exitCode = 1;
} finally {
  await connection.close();
  await new Promise<void>((resolve) => sink.close(() => resolve()));
  await servers.stop(failed);
}
