/**
 * The DLQ command line: `npm run dlq -- <list|show|replay|purge> …` (see the service README).
 * Reads the same NATS_* variables as the service.
 */
import { parseArgs } from 'node:util';
import {
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
  type StoredMsg,
} from '@nats-io/jetstream';
import { headers as createHeaders, type MsgHdrs } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { HEADERS, STREAMS } from '@signup-flow/events';
import {
  isJetStreamApiError,
  JETSTREAM_API_CODES,
  natsConnectionOptions,
  natsEnvShape,
  natsSettingsFromEnv,
} from '@signup-flow/nats';
import { ConfigError, loadConfig } from '@signup-flow/service-runtime';
import { z } from 'zod';
import { DLQ_HEADERS, REPLAYED_FROM_HEADER } from '../messaging/dead-letters.js';

const USAGE = `usage: dlq <command>
  list [--limit N]        list dead letters, oldest first (default limit 100)
  show <seq>              one dead letter: its headers and body
  replay <seq> | --all    republish to the original subject and remove from the DLQ
  purge <seq> | --all     delete dead letters without replaying them

  Connects with NATS_URL (default nats://127.0.0.1:4222), NATS_CREDS, NATS_USER, NATS_PASSWORD,
  NATS_TLS_CA, NATS_TLS_CERT and NATS_TLS_KEY.`;

/** A mistake of the person typing the command; shown as one line, exit status 2. */
class UsageError extends Error {
  override readonly name = 'UsageError';
}

function header(message: StoredMsg, name: string): string {
  return message.header?.get(name) ?? '';
}

function parseSequence(value: string | undefined): number {
  const seq = Number(value);
  if (!value || !Number.isSafeInteger(seq) || seq <= 0) {
    throw new UsageError(`expected a DLQ sequence number, got ${JSON.stringify(value ?? '')}`);
  }
  return seq;
}

// getMessage answers null for a sequence with no message; any other failure (a lost connection,
// a permission) is an error and must not read as "nothing there".
async function letterAt(jsm: JetStreamManager, seq: number): Promise<StoredMsg> {
  const letter = await jsm.streams.getMessage(STREAMS.deadLetters, { seq });
  if (!letter)
    throw new UsageError(`no dead letter with sequence ${seq} in ${STREAMS.deadLetters}`);
  return letter;
}

async function* allLetters(jsm: JetStreamManager, limit = Number.POSITIVE_INFINITY) {
  const info = await jsm.streams.info(STREAMS.deadLetters);
  // An empty stream reports first_seq 0, a sequence the server refuses to look up.
  if (info.state.messages === 0) return;
  let yielded = 0;
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && yielded < limit; seq++) {
    const letter = await jsm.streams.getMessage(STREAMS.deadLetters, { seq });
    if (!letter) continue; // deleted by an earlier replay or purge
    yielded++;
    yield letter;
  }
}

function formatBody(data: Uint8Array): string {
  const text = new TextDecoder().decode(data);
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return data.byteLength > 2000 ? `${text.slice(0, 2000)}… (${data.byteLength} bytes)` : text;
  }
}

async function list(jsm: JetStreamManager, limit: number): Promise<void> {
  const rows = [['SEQ', 'DEAD-LETTERED', 'REASON', 'ATTEMPTS', 'ORIGINAL', 'EVENT', 'DETAIL']];
  for await (const letter of allLetters(jsm, limit)) {
    rows.push([
      String(letter.seq),
      letter.time.toISOString(),
      header(letter, DLQ_HEADERS.reason),
      header(letter, DLQ_HEADERS.attempts),
      `${header(letter, DLQ_HEADERS.originalStream)}#${header(letter, DLQ_HEADERS.originalSequence)}`,
      header(letter, DLQ_HEADERS.originalMsgId) || '-',
      header(letter, DLQ_HEADERS.detail).slice(0, 60),
    ]);
  }
  if (rows.length === 1) {
    console.log(`${STREAMS.deadLetters} is empty`);
    return;
  }
  const widths =
    rows[0]?.map((_, column) => Math.max(...rows.map((row) => row[column]?.length ?? 0))) ?? [];
  for (const row of rows)
    console.log(
      row
        .map((cell, column) => cell.padEnd(widths[column] ?? 0))
        .join('  ')
        .trimEnd(),
    );
}

async function show(jsm: JetStreamManager, seq: number): Promise<void> {
  const letter = await letterAt(jsm, seq);
  console.log(`sequence: ${letter.seq}`);
  console.log(`subject:  ${letter.subject}`);
  console.log(`time:     ${letter.time.toISOString()}`);
  console.log('headers:');
  for (const name of letter.header?.keys() ?? []) {
    for (const value of letter.header?.values(name) ?? []) console.log(`  ${name}: ${value}`);
  }
  console.log('body:');
  console.log(formatBody(letter.data));
}

function replayHeaders(letter: StoredMsg): MsgHdrs {
  const replay = createHeaders();
  for (const name of letter.header?.keys() ?? []) {
    if (/^(dlq-|nats-)/i.test(name)) continue;
    for (const value of letter.header?.values(name) ?? []) replay.append(name, value);
  }
  replay.set(REPLAYED_FROM_HEADER, String(letter.seq));
  return replay;
}

/**
 * Republishes a dead letter to its original subject. The new `Nats-Msg-Id` differs from the
 * original's (which JetStream may still remember) but is the same for every replay of this letter,
 * so replaying it twice in quick succession stores it once; the delivery ledger makes sure a
 * replay of an event already emailed sends nothing.
 */
async function replayOne(
  js: JetStreamClient,
  jsm: JetStreamManager,
  letter: StoredMsg,
): Promise<string> {
  const subject = header(letter, DLQ_HEADERS.originalSubject);
  if (!subject)
    throw new Error(`dead letter ${letter.seq} has no ${DLQ_HEADERS.originalSubject} header`);
  const originalId = header(letter, DLQ_HEADERS.originalMsgId) || header(letter, HEADERS.messageId);
  const ack = await js.publish(subject, letter.data, {
    headers: replayHeaders(letter),
    msgID: `${originalId || 'dlq'}.replay-${letter.seq}`,
  });
  await jsm.streams.deleteMessage(STREAMS.deadLetters, letter.seq);
  return `replayed ${STREAMS.deadLetters}#${letter.seq} to ${subject} as ${ack.stream}#${ack.seq}`;
}

async function purge(jsm: JetStreamManager, target: number | 'all'): Promise<string> {
  if (target === 'all') {
    const { purged } = await jsm.streams.purge(STREAMS.deadLetters);
    return `purged ${purged} dead letter(s)`;
  }
  await letterAt(jsm, target);
  await jsm.streams.deleteMessage(STREAMS.deadLetters, target);
  return `deleted ${STREAMS.deadLetters}#${target}`;
}

function target(positionals: string[], all: boolean | undefined): number | 'all' {
  if (all && positionals.length > 0)
    throw new UsageError('give a sequence number or --all, not both');
  return all ? 'all' : parseSequence(positionals[0]);
}

async function run(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      all: { type: 'boolean' },
      limit: { type: 'string', default: '100' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, ...rest] = positionals;
  if (values.help || !command) {
    console.log(USAGE);
    return;
  }
  if (!['list', 'show', 'replay', 'purge'].includes(command)) {
    throw new UsageError(`unknown command ${JSON.stringify(command)}`);
  }
  const selected = command === 'list' || command === 'show' ? undefined : target(rest, values.all);
  const showSeq = command === 'show' ? parseSequence(rest[0]) : undefined;
  const limit = Number(values.limit);
  if (!Number.isSafeInteger(limit) || limit <= 0)
    throw new UsageError('--limit must be a positive integer');

  const config = loadConfig(z.object(natsEnvShape));
  const settings = natsSettingsFromEnv(config);
  const connection = await connect(
    await natsConnectionOptions(settings, 'messaging-service-dlq-cli'),
  ).catch((error: unknown) => {
    throw new Error(`cannot connect to NATS at ${settings.servers.join(',')}: ${String(error)}`);
  });
  try {
    const jsm = await jetstreamManager(connection);
    await jsm.streams.info(STREAMS.deadLetters).catch((error: unknown) => {
      if (isJetStreamApiError(error, JETSTREAM_API_CODES.StreamNotFound)) {
        throw new Error(
          `stream ${STREAMS.deadLetters} does not exist (the messaging-service creates it at start)`,
        );
      }
      throw error;
    });
    switch (command) {
      case 'list':
        await list(jsm, limit);
        break;
      case 'show':
        await show(jsm, showSeq ?? 0);
        break;
      case 'replay': {
        const js = jetstream(connection);
        const letters = selected === 'all' ? allLetters(jsm) : [await letterAt(jsm, selected ?? 0)];
        let count = 0;
        for await (const letter of letters) {
          console.log(await replayOne(js, jsm, letter));
          count++;
        }
        if (count === 0) console.log(`${STREAMS.deadLetters} is empty`);
        break;
      }
      case 'purge':
        console.log(await purge(jsm, selected ?? 'all'));
        break;
    }
  } finally {
    await connection.close();
  }
}

try {
  await run(process.argv.slice(2));
} catch (error) {
  const message = error instanceof Error ? error.message : String(error);
  console.error(`dlq: ${message}`);
  if (error instanceof UsageError || (error instanceof TypeError && 'code' in error)) {
    console.error(USAGE);
    process.exitCode = 2;
  } else {
    process.exitCode = error instanceof ConfigError ? 2 : 1;
  }
}
