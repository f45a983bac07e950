import { Parser } from '@asyncapi/parser';
import { jetstreamManager } from '@nats-io/jetstream';
import type { MsgHdrs } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { STREAMS } from '@signup-flow/events';
import { waitUntil } from '@signup-flow/local-stack';
import { serveSignupFlow, signUp, startNatsServer, startSmtpSink } from '@signup-flow/testing';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { beforeAll, describe, expect, it } from 'vitest';

interface Message {
  headers: { properties: Record<string, object>; required: string[] };
  payload: object;
}
interface Document {
  asyncapi: string;
  components: { messages: { UserCreated: Message; DeadLetter: Message } };
}

const REFUSED = 'refused@example.test';
let document: Document;
let natsUrl: string;
let userService: string;

beforeAll(async () => {
  const nats = await startNatsServer();
  natsUrl = nats.url;
  const sink = await startSmtpSink();
  // One recipient the mail server refuses for good: its event becomes a dead letter.
  sink.refuseRecipient(REFUSED, { code: 550, message: 'no such mailbox' });
  const { users, messaging } = await serveSignupFlow({
    name: 'asyncapi',
    natsUrl,
    smtpUrl: sink.url,
  });
  userService = users.baseUrl;
  document = (await (await fetch(`${messaging.baseUrl}/asyncapi.json`)).json()) as Document;
});

/** The newest message of a stream, as the broker holds it. */
async function lastMessage(stream: string): Promise<{ headers: MsgHdrs; body: string }> {
  const connection = await connect({ servers: natsUrl });
  try {
    const jsm = await jetstreamManager(connection);
    let found: { headers: MsgHdrs; body: string } | undefined;
    await waitUntil(`a message in ${stream}`, async () => {
      const info = await jsm.streams.info(stream);
      if (info.state.messages === 0) return false;
      const message = await jsm.streams.getMessage(stream, {
        last_by_subj: `${info.config.subjects?.[0]}`,
      });
      if (!message?.header) return false;
      found = { headers: message.header, body: message.string() };
      return true;
    });
    return found as { headers: MsgHdrs; body: string };
  } finally {
    await connection.close();
  }
}

function headerObject(headers: MsgHdrs): Record<string, string> {
  return Object.fromEntries(headers.keys().map((name) => [name, headers.get(name)]));
}

function validator() {
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats.default(ajv);
  return ajv;
}

async function signUpAs(email: string): Promise<void> {
  expect((await signUp(userService, email)).status).toBe(201);
}

describe('GET /asyncapi.json', () => {
  it('when parsed by @asyncapi/parser, then it is a valid AsyncAPI 3.0 document', async () => {
    expect(document.asyncapi).toBe('3.0.0');
    const { document: parsed, diagnostics } = await new Parser().parse(JSON.stringify(document));
    expect(diagnostics.filter((diagnostic) => diagnostic.severity === 0)).toEqual([]);
    expect(
      parsed
        ?.channels()
        .all()
        .map((channel) => channel.address()),
    ).toEqual(['users.created', 'dlq.users.created']);
  });

  it('when a real signup publishes its event, then the message on users.created matches the UserCreated message', async () => {
    await signUpAs('described@example.test');
    const { headers, body } = await lastMessage(STREAMS.users);
    const message = document.components.messages.UserCreated;
    const ajv = validator();
    const payloadValid = ajv.validate(message.payload, JSON.parse(body));
    expect(ajv.errors, body).toBeNull();
    expect(payloadValid).toBe(true);
    expect(ajv.validate(message.headers, headerObject(headers)), JSON.stringify(ajv.errors)).toBe(
      true,
    );
  });

  it('when the mail server refuses an address for good, then the dead letter matches the DeadLetter message, headers included', async () => {
    await signUpAs(REFUSED);
    const { headers } = await lastMessage(STREAMS.deadLetters);
    const message = document.components.messages.DeadLetter;
    const ajv = validator();
    const found = headerObject(headers);
    expect(ajv.validate(message.headers, found), JSON.stringify(ajv.errors)).toBe(true);
    expect(found['Dlq-Reason']).toBe('smtp-rejected');
  });
});
