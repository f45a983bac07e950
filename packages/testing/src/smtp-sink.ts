import { type AddressInfo, createServer as createNetServer, type Socket } from 'node:net';
import { type ParsedMail, simpleParser } from 'mailparser';
import { SMTPServer, type SMTPServerSession } from 'smtp-server';

/** One email the sink accepted. */
export interface ReceivedEmail {
  /** The sender's address and display name. */
  from: { address: string; name: string };
  to: string[];
  messageId: string;
  subject: string;
  text: string;
  html: string;
  receivedAt: Date;
  /** True when the message came over TLS (implicit or after STARTTLS). */
  secure: boolean;
}

/** One message the client finished sending (DATA complete), whatever the sink answered. */
export interface DeliveryAttempt {
  number: number;
  at: Date;
  messageId: string;
  /** The SMTP session (connection) it came over. */
  sessionId: string;
  /** The envelope's recipients (RCPT TO). */
  to: string[];
}

/** How the sink answers a message: accept it, refuse it with an SMTP reply, or hold the reply. */
export type SinkReply =
  | { kind: 'accept' }
  | { kind: 'reject'; code: number; message: string }
  /** No answer until `release` resolves; if the client is gone by then, nothing is delivered. */
  | { kind: 'stall'; release: Promise<'accept' | 'reject'> }
  /**
   * Queues the message at once (it is delivered, whatever the client does next) and sends the
   * `250` only after `afterMs`, as RFC 5321 §4.5.3.2.6 allows a server (up to 10 minutes).
   */
  | { kind: 'accept-late'; afterMs: number };

export type SinkBehaviour = (attempt: DeliveryAttempt) => SinkReply;

export interface SmtpSinkOptions {
  /** @default a free port */
  port?: number;
  /** When set, clients must log in with these (AUTH PLAIN/LOGIN). */
  credentials?: { user: string; pass: string };
  /**
   * Serves TLS with this key and certificate: from the first byte (`implicit`, as for `smtps://`)
   * or after STARTTLS. Without it the sink speaks plain SMTP and does not offer STARTTLS.
   */
  tls?: { key: Buffer; cert: Buffer; implicit: boolean };
}

const ACCEPT: SinkBehaviour = () => ({ kind: 'accept' });

/** A real SMTP server (the `smtp-server` package) on loopback that records what it accepts. */
export class SmtpSink {
  readonly received: ReceivedEmail[] = [];
  readonly attempts: DeliveryAttempt[] = [];
  behaviour: SinkBehaviour = ACCEPT;
  readonly #server: SMTPServer;
  readonly #closedSessions = new Set<string>();
  readonly #sockets = new Set<Socket>();
  #port = 0;
  #down = false;

  private constructor(options: SmtpSinkOptions) {
    const credentials = options.credentials;
    this.#server = new SMTPServer({
      ...(options.tls
        ? { secure: options.tls.implicit, key: options.tls.key, cert: options.tls.cert }
        : { disabledCommands: ['STARTTLS'] }),
      authOptional: !credentials,
      // Test credentials over a plain connection are fine; a real server would refuse.
      allowInsecureAuth: true,
      onAuth: (auth, _session, callback) => {
        if (
          credentials &&
          auth.username === credentials.user &&
          auth.password === credentials.pass
        ) {
          callback(null, { user: auth.username });
        } else {
          callback(Object.assign(new Error('invalid credentials'), { responseCode: 535 }));
        }
      },
      logger: false,
      size: 10 * 1024 * 1024,
      onData: (stream, session, callback) => {
        void this.#onData(stream, session, callback);
      },
      onClose: (session) => {
        this.#closedSessions.add(session.id);
      },
    });
  }

  static async start(options: SmtpSinkOptions = {}): Promise<SmtpSink> {
    const sink = new SmtpSink(options);
    await new Promise<void>((resolve, reject) => {
      sink.#server.once('error', reject);
      sink.#server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
    });
    sink.#port = (sink.#server.server.address() as AddressInfo).port;
    sink.#server.server.on('connection', (socket: Socket) => {
      sink.#sockets.add(socket);
      socket.once('close', () => sink.#sockets.delete(socket));
    });
    return sink;
  }

  /** The mail server goes away: connections are reset and new ones refused, until {@link comeBack}. */
  async goDown(): Promise<void> {
    if (this.#down) return;
    this.#down = true;
    const closed = new Promise<void>((resolve) => this.#server.server.close(() => resolve()));
    for (const socket of this.#sockets) socket.destroy();
    await closed;
  }

  /** Listens again on the same port. */
  async comeBack(): Promise<void> {
    if (!this.#down) return;
    await new Promise<void>((resolve, reject) => {
      this.#server.server.once('error', reject);
      this.#server.server.listen(this.#port, '127.0.0.1', () => resolve());
    });
    this.#down = false;
  }

  get port(): number {
    return this.#port;
  }

  get url(): string {
    return `smtp://127.0.0.1:${this.#port}`;
  }

  /** Emails accepted with the given Message-ID. */
  withMessageId(messageId: string): ReceivedEmail[] {
    return this.received.filter((email) => email.messageId === messageId);
  }

  /** The attempts at the message with the given Message-ID, whatever the sink answered. */
  attemptsWithMessageId(messageId: string): DeliveryAttempt[] {
    return this.attempts.filter((attempt) => attempt.messageId === messageId);
  }

  /**
   * Refuses the first `times` attempts at the message with this Message-ID (every one, unless
   * given) with this SMTP reply; accepts every other attempt.
   */
  refuse(
    messageId: string,
    reply: { code: number; message: string },
    times = Number.POSITIVE_INFINITY,
  ): void {
    this.behaviour = (attempt) =>
      attempt.messageId === messageId && this.attemptsWithMessageId(messageId).length <= times
        ? { kind: 'reject', ...reply }
        : { kind: 'accept' };
  }

  /** Refuses every message to this recipient with this SMTP reply; accepts every other. */
  refuseRecipient(address: string, reply: { code: number; message: string }): void {
    this.behaviour = (attempt) =>
      attempt.to.includes(address) ? { kind: 'reject', ...reply } : { kind: 'accept' };
  }

  /**
   * Holds the reply to the first attempt at the message with this Message-ID (at any message,
   * when none is named) until the returned function decides it; accepts every other attempt.
   */
  stallFirstAttempt(messageId?: string): (decision: 'accept' | 'reject') => void {
    let release: (decision: 'accept' | 'reject') => void = () => undefined;
    const decided = new Promise<'accept' | 'reject'>((resolve) => (release = resolve));
    const attemptsSoFar = () =>
      messageId === undefined ? this.attempts : this.attemptsWithMessageId(messageId);
    this.behaviour = (attempt) =>
      (messageId === undefined || attempt.messageId === messageId) && attemptsSoFar().length === 1
        ? { kind: 'stall', release: decided }
        : { kind: 'accept' };
    return release;
  }

  /** True once the client of that session has disconnected. */
  sessionClosed(sessionId: string): boolean {
    return this.#closedSessions.has(sessionId);
  }

  async stop(): Promise<void> {
    if (this.#down) return;
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #onData(
    stream: NodeJS.ReadableStream,
    session: SMTPServerSession,
    callback: (error?: Error | null) => void,
  ): Promise<void> {
    const chunks: Buffer[] = [];
    try {
      for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
    } catch {
      return; // the client went away in the middle of the message: nothing was delivered
    }
    const parsed = await simpleParser(Buffer.concat(chunks));
    const attempt: DeliveryAttempt = {
      number: this.attempts.length + 1,
      at: new Date(),
      messageId: parsed.messageId ?? '',
      sessionId: session.id,
      to: session.envelope.rcptTo.map((recipient) => recipient.address),
    };
    this.attempts.push(attempt);
    let reply = this.behaviour(attempt);
    if (reply.kind === 'accept-late') {
      this.#deliver(parsed, session.secure);
      const { afterMs } = reply;
      setTimeout(() => callback(), afterMs);
      return;
    }
    if (reply.kind === 'stall') {
      const decision = await reply.release;
      if (this.#closedSessions.has(session.id)) return;
      reply =
        decision === 'accept'
          ? { kind: 'accept' }
          : { kind: 'reject', code: 451, message: 'stalled, then refused' };
    }
    if (reply.kind === 'reject') {
      callback(Object.assign(new Error(reply.message), { responseCode: reply.code }));
      return;
    }
    this.#deliver(parsed, session.secure);
    callback();
  }

  #deliver(parsed: ParsedMail, secure: boolean): void {
    const addresses = (value: typeof parsed.to) =>
      (Array.isArray(value) ? value : value ? [value] : []).flatMap((group) =>
        group.value.map((entry) => entry.address ?? ''),
      );
    this.received.push({
      from: {
        address: parsed.from?.value[0]?.address ?? '',
        name: parsed.from?.value[0]?.name ?? '',
      },
      to: addresses(parsed.to),
      messageId: parsed.messageId ?? '',
      subject: parsed.subject ?? '',
      text: parsed.text ?? '',
      html: typeof parsed.html === 'string' ? parsed.html : '',
      receivedAt: new Date(),
      secure,
    });
  }
}

/** A TCP port that accepts connections and closes them at once, like a crashing mail server. */
export async function startDroppingServer(): Promise<{ url: string; stop(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createNetServer((socket) => {
    sockets.add(socket);
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `smtp://127.0.0.1:${port}`,
    async stop() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
