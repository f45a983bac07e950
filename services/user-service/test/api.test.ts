import { onTestFileEnd, TcpProxy } from '@signup-flow/testing';
import { decodeJwt, decodeProtectedHeader, SignJWT } from 'jose';
import type { Knex } from 'knex';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type InProcessService,
  migratedDatabase,
  signUpRequest,
  startApi,
  TEST_JWT_SECRET,
  TEST_JWT_SECRET_PREVIOUS,
} from './fixtures.js';

let db: Knex;
let api: InProcessService;

beforeAll(async () => {
  const database = await migratedDatabase();
  db = database.db;
  api = await startApi(database.url);
});

const VALID = { email: 'ada@example.com', password: 'correct horse battery', name: 'Ada Lovelace' };

async function counts() {
  const [users] = await db('users').count<Array<{ count: string }>>('* as count');
  const [events] = await db('outbox').count<Array<{ count: string }>>('* as count');
  return { users: Number(users?.count), events: Number(events?.count) };
}

function uniqueEmail(tag: string) {
  return `${tag}-${Math.random().toString(36).slice(2)}@example.com`;
}

describe('POST /v1/users', () => {
  it('when the request is valid, then it answers 201 with the user and stores user and event together', async () => {
    const email = uniqueEmail('happy');
    const response = await signUpRequest(api.baseUrl, { ...VALID, email: `  ${email}  ` });
    expect(response.status).toBe(201);
    const user = (await response.json()) as Record<string, string>;
    expect(Object.keys(user).sort()).toEqual(['createdAt', 'email', 'id', 'name']);
    expect(user.email).toBe(email);
    expect(user.name).toBe(VALID.name);
    expect(response.headers.get('location')).toBe(`/v1/users/${user.id}`);

    const row = await db('users').where({ id: user.id }).first();
    expect(row.password_hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    const event = await db('outbox').where({ aggregate_id: user.id }).first();
    expect(event.subject).toBe('users.created');
    expect(event.published_at).toBeNull();
    expect(event.payload).toMatchObject({
      specversion: '1.0',
      id: event.event_id,
      type: 'io.signup-flow.user.created.v1',
      source: '/user-service',
      subject: user.id,
      datacontenttype: 'application/json',
      data: { userId: user.id, email, name: VALID.name, createdAt: user.createdAt },
    });
    // UUIDv7: version nibble 7.
    expect(event.event_id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7/);
  });

  const longName = 'n'.repeat(101);
  const cases: Array<{
    title: string;
    body: unknown;
    fields: string[];
    contentType?: string;
    status?: number;
  }> = [
    {
      title: 'email missing',
      body: { password: VALID.password, name: VALID.name },
      fields: ['email'],
    },
    { title: 'email invalid', body: { ...VALID, email: 'not-an-email' }, fields: ['email'] },
    { title: 'email of only spaces', body: { ...VALID, email: '   ' }, fields: ['email'] },
    {
      title: 'email longer than 254 characters',
      body: {
        ...VALID,
        email: `${'a'.repeat(64)}@${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(63)}.com`,
      },
      fields: ['email'],
    },
    { title: 'email not a string', body: { ...VALID, email: 42 }, fields: ['email'] },
    {
      title: 'password of 11 characters',
      body: { ...VALID, password: 'a'.repeat(11) },
      fields: ['password'],
    },
    {
      title: 'password of 257 characters',
      body: { ...VALID, password: 'a'.repeat(257) },
      fields: ['password'],
    },
    {
      title: 'password of 11 characters counting a leading space',
      body: { ...VALID, password: ' 1234567890' },
      fields: ['password'],
    },
    {
      title: 'password missing',
      body: { email: VALID.email, name: VALID.name },
      fields: ['password'],
    },
    {
      title: 'name of only whitespace',
      body: { ...VALID, name: ' \t\n\u00a0 ' },
      fields: ['name'],
    },
    { title: 'name empty', body: { ...VALID, name: '' }, fields: ['name'] },
    { title: 'name of 101 characters', body: { ...VALID, name: longName }, fields: ['name'] },
    {
      title: 'name with a control character',
      body: { ...VALID, name: 'Ada\u0000' },
      fields: ['name'],
    },
    { title: 'unknown field', body: { ...VALID, isAdmin: true }, fields: ['isAdmin'] },
    {
      title: 'every field wrong at once',
      body: { email: 'x', password: 'short', name: '', role: 'admin' },
      fields: ['email', 'name', 'password', 'role'],
    },
    { title: 'body is an array', body: [VALID], fields: ['(body)'] },
    { title: 'body is null', body: null, fields: ['(body)'] },
  ];

  it.each(cases)(
    'when $title, then 400 lists the field and nothing is written',
    async ({ body, fields }) => {
      const before = await counts();
      const response = await fetch(`${api.baseUrl}/v1/users`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      expect(response.status).toBe(400);
      expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      const problem = (await response.json()) as {
        status: number;
        type: string;
        title: string;
        errors: Array<{ field: string; pointer: string; detail: string }>;
      };
      expect(problem.status).toBe(400);
      expect(problem.type).toBe('urn:signup-flow:problem:invalid-request');
      expect([...new Set(problem.errors.map((error) => error.field))].sort()).toEqual(fields);
      for (const error of problem.errors) expect(error.detail).toBeTruthy();
      expect(JSON.stringify(problem)).not.toContain(VALID.password);
      expect(await counts()).toEqual(before);
    },
  );

  it('when names and emails need trimming or hold unicode, then they are stored trimmed and counted in characters', async () => {
    const name = `  ${'é'.repeat(50)}${'😀'.repeat(50)}  `;
    const response = await signUpRequest(api.baseUrl, {
      email: ` ${uniqueEmail('unicode')}\t`,
      password: `${'🔑'.repeat(12)}`,
      name,
    });
    expect(response.status).toBe(201);
    const user = (await response.json()) as { name: string; email: string };
    expect(user.name).toBe(name.trim());
    expect(user.email).not.toMatch(/\s/);
  });

  it('when the password has surrounding spaces, then they are kept, not trimmed', async () => {
    const email = uniqueEmail('spaces');
    const password = '  twelve chars  ';
    expect((await signUpRequest(api.baseUrl, { ...VALID, email, password })).status).toBe(201);
    const login = (pw: string) =>
      fetch(`${api.baseUrl}/v1/sessions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email, password: pw }),
      });
    expect((await login(password)).status).toBe(200);
    expect((await login(password.trim())).status).toBe(401);
  });

  const transportCases: Array<{ title: string; init: RequestInit; status: number; type: string }> =
    [
      {
        title: 'malformed JSON',
        init: { headers: { 'content-type': 'application/json' }, body: '{"email": ' },
        status: 400,
        type: 'urn:signup-flow:problem:malformed-json',
      },
      {
        title: 'an empty body',
        init: { headers: { 'content-type': 'application/json' }, body: '' },
        status: 400,
        type: 'urn:signup-flow:problem:malformed-json',
      },
      {
        title: 'invalid UTF-8',
        init: {
          headers: { 'content-type': 'application/json' },
          body: new Uint8Array([0x7b, 0xff, 0x7d]),
        },
        status: 400,
        type: 'urn:signup-flow:problem:malformed-json',
      },
      {
        title: 'a form body',
        init: {
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: 'email=a%40b.c&password=123456789012&name=A',
        },
        status: 415,
        type: 'urn:signup-flow:problem:unsupported-media-type',
      },
      {
        title: 'no content type',
        init: { body: new Blob([JSON.stringify(VALID)]) },
        status: 415,
        type: 'urn:signup-flow:problem:unsupported-media-type',
      },
      {
        title: 'JSON in latin1',
        init: {
          headers: { 'content-type': 'application/json; charset=latin1' },
          body: JSON.stringify(VALID),
        },
        status: 415,
        type: 'urn:signup-flow:problem:unsupported-media-type',
      },
      {
        title: 'a body over 16 KiB',
        init: {
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ ...VALID, name: 'x'.repeat(17 * 1024) }),
        },
        status: 413,
        type: 'urn:signup-flow:problem:payload-too-large',
      },
    ];

  it.each(transportCases)(
    'when the body is $title, then $status and nothing is written',
    async ({ init, status, type }) => {
      const before = await counts();
      const response = await fetch(`${api.baseUrl}/v1/users`, { method: 'POST', ...init });
      expect(response.status).toBe(status);
      expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      const problem = (await response.json()) as { type: string; status: number; detail: string };
      expect(problem).toMatchObject({ type, status });
      expect(await counts()).toEqual(before);
    },
  );

  it('when 20 signups race with one email (differing in case), then exactly one wins and 19 get 409, with one user and one event in all', async () => {
    const email = uniqueEmail('race');
    const before = await counts();
    const responses = await Promise.all(
      Array.from({ length: 20 }, (_, index) =>
        signUpRequest(api.baseUrl, { ...VALID, email: index % 2 ? email.toUpperCase() : email }),
      ),
    );
    const statuses = responses.map((response) => response.status).sort();
    expect(statuses.filter((status) => status === 201)).toHaveLength(1);
    expect(statuses.filter((status) => status === 409)).toHaveLength(19);
    const conflict = responses.find((response) => response.status === 409);
    expect(await conflict?.json()).toMatchObject({
      type: 'urn:signup-flow:problem:conflict',
      status: 409,
    });
    const stored = await db('users').whereRaw('lower(email) = ?', [email]);
    expect(stored).toHaveLength(1);
    const events = await db('outbox').where({ aggregate_id: stored[0].id });
    expect(events).toHaveLength(1);
    // Every outbox row, not only the winner's: a loser's event written outside its transaction
    // would be a stray welcome email.
    expect(await counts()).toEqual({ users: before.users + 1, events: before.events + 1 });
  });

  it('when an email is already registered, then the 409 writes no user and no event', async () => {
    const email = uniqueEmail('taken');
    expect((await signUpRequest(api.baseUrl, { ...VALID, email })).status).toBe(201);
    const before = await counts();

    const again = await signUpRequest(api.baseUrl, { ...VALID, email: email.toUpperCase() });

    expect(again.status).toBe(409);
    expect(await counts()).toEqual(before);
  });

  it('when PostgreSQL fails the insert for another reason than a taken email, then the answer is a 5xx problem, never a 409, and leaks nothing', async () => {
    const { url } = await migratedDatabase();
    const proxy = await TcpProxy.inFrontOf(url);
    onTestFileEnd(() => proxy.stop());
    const broken = await startApi(proxy.rewrite(url));
    await proxy.cut();

    const response = await signUpRequest(broken.baseUrl, { ...VALID, email: uniqueEmail('down') });

    expect(response.status).toBeGreaterThanOrEqual(500);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const text = await response.text();
    expect(text).not.toMatch(/INSERT|ECONNREFUSED|at .*\.ts:\d+/);
  });

  it('never logs the password or the email', async () => {
    const email = uniqueEmail('secret');
    await signUpRequest(api.baseUrl, { ...VALID, email, password: 'a-very-secret-password' });
    await signUpRequest(api.baseUrl, { ...VALID, email, password: 'a-very-secret-password' });
    const log = api.logLines.join('\n');
    expect(log).not.toContain('a-very-secret-password');
    expect(log).not.toContain(email);
  });
});

/** Signs a user up and logs in: the user as created, and a bearer token for it. */
async function userWithToken(tag: string): Promise<{ user: { id: string }; token: string }> {
  const email = uniqueEmail(tag);
  const user = (await (await signUpRequest(api.baseUrl, { ...VALID, email })).json()) as {
    id: string;
  };
  const session = await fetch(`${api.baseUrl}/v1/sessions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password: VALID.password }),
  });
  const { token } = (await session.json()) as { token: string };
  return { user, token };
}

function getAs(path: string, authorization?: string): Promise<Response> {
  return fetch(`${api.baseUrl}${path}`, {
    headers: authorization ? { authorization } : {},
  });
}

/** A token signed as the user-service would, with `claims` and `key` changed. */
async function forgedToken(
  subject: string,
  overrides: { key?: string; issuer?: string; audience?: string; expiresIn?: number } = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT', kid: 'test-key' })
    .setSubject(subject)
    .setIssuer(overrides.issuer ?? 'user-service')
    .setAudience(overrides.audience ?? 'signup-flow')
    .setIssuedAt(now - 120)
    .setExpirationTime(now + (overrides.expiresIn ?? 600))
    .sign(new TextEncoder().encode(overrides.key ?? TEST_JWT_SECRET));
}

function unsignedToken(subject: string): string {
  const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  return `${encode({ alg: 'none', typ: 'JWT' })}.${encode({ sub: subject, iss: 'user-service', aud: 'signup-flow', exp: now + 600 })}.`;
}

describe('GET /v1/users/{id} and /v1/users/me: the caller’s own data, behind its token', () => {
  it('when the user fetches itself with its token, then it is returned without any password data', async () => {
    const { user, token } = await userWithToken('get');

    const response = await getAs(`/v1/users/${user.id}`, `Bearer ${token}`);
    const me = await getAs('/v1/users/me', `Bearer ${token}`);

    expect(response.status).toBe(200);
    const body = await response.text();
    expect(JSON.parse(body)).toEqual(user);
    expect(body).not.toMatch(/argon|password/i);
    expect(me.status).toBe(200);
    expect(await me.json()).toEqual(user);
  });

  it("when the token is another user's, then the id answers 404, exactly like an id nobody has", async () => {
    const { user } = await userWithToken('victim');
    const { token } = await userWithToken('stranger');

    for (const id of [user.id, '0190a0a0-0000-7000-8000-000000000000', 'not-a-uuid']) {
      const response = await getAs(`/v1/users/${id}`, `Bearer ${token}`);
      expect(response.status).toBe(404);
      expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(await response.text()).not.toContain(VALID.name);
    }
  });

  it('when a token verifies with the previous key (a key rotation), then it is accepted', async () => {
    const { user } = await userWithToken('rotation');
    const token = await forgedToken(user.id, { key: TEST_JWT_SECRET_PREVIOUS });

    expect((await getAs(`/v1/users/${user.id}`, `Bearer ${token}`)).status).toBe(200);
  });

  it.each([
    ['no Authorization header', async () => undefined, false],
    ['a Basic credential', async () => 'Basic dXNlcjpwYXNz', true],
    ['a malformed bearer token', async () => 'Bearer not a token', true],
    [
      'an expired token',
      async (id: string) => `Bearer ${await forgedToken(id, { expiresIn: -60 })}`,
      true,
    ],
    [
      'a token signed with another key',
      async (id: string) =>
        `Bearer ${await forgedToken(id, { key: 'someone-elses-secret-of-32-characters-or-more' })}`,
      true,
    ],
    ['an unsigned token (alg none)', async (id: string) => `Bearer ${unsignedToken(id)}`, true],
    [
      'a token from another issuer',
      async (id: string) => `Bearer ${await forgedToken(id, { issuer: 'evil' })}`,
      true,
    ],
    [
      'a token for another audience',
      async (id: string) => `Bearer ${await forgedToken(id, { audience: 'another-app' })}`,
      true,
    ],
    [
      'a tampered token',
      async (id: string) => {
        const [header, , signature] = (await forgedToken(id)).split('.');
        const payload = Buffer.from(
          JSON.stringify({ sub: id, iss: 'user-service', aud: 'signup-flow', exp: 4102444800 }),
        ).toString('base64url');
        return `Bearer ${header}.${payload}.${signature}`;
      },
      true,
    ],
  ] as const)(
    'when the request carries %s, then both lookups answer 401 problem+json with a Bearer challenge',
    async (_what, authorization, invalidToken) => {
      const { user } = await userWithToken('unauthorized');
      const header = await authorization(user.id);

      for (const path of [`/v1/users/${user.id}`, '/v1/users/me']) {
        const response = await getAs(path, header);
        expect(response.status).toBe(401);
        expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
        const challenge = response.headers.get('www-authenticate') ?? '';
        expect(challenge).toMatch(/^Bearer realm="signup-flow"/);
        expect(challenge.includes('error="invalid_token"')).toBe(invalidToken);
        expect(await response.json()).toMatchObject({
          type: 'urn:signup-flow:problem:unauthorized',
          status: 401,
        });
      }
    },
  );
});

describe('DELETE /v1/users/me: an account deleted by its owner', () => {
  const deleteAs = (authorization?: string) =>
    fetch(`${api.baseUrl}/v1/users/me`, {
      method: 'DELETE',
      headers: authorization ? { authorization } : {},
    });

  it('when the user deletes itself with its token, then it answers 204 and the row is gone, its event kept; the token then authenticates nobody', async () => {
    const { user, token } = await userWithToken('delete');
    const before = await counts();

    const response = await deleteAs(`Bearer ${token}`);

    expect(response.status).toBe(204);
    expect(await response.text()).toBe('');
    expect(await db('users').where({ id: user.id }).first()).toBeUndefined();
    expect(await counts()).toEqual({ users: before.users - 1, events: before.events });
    expect(await db('outbox').where({ aggregate_id: user.id }).first()).toBeTruthy();
    for (const again of [
      await getAs('/v1/users/me', `Bearer ${token}`),
      await deleteAs(`Bearer ${token}`),
    ]) {
      expect(again.status).toBe(401);
      expect(again.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
      expect(await again.json()).toMatchObject({ detail: 'the token’s user no longer exists' });
    }
    expect((await getAs(`/v1/users/${user.id}`, `Bearer ${token}`)).status).toBe(404);
  });

  it('when the email of a deleted account signs up again, then it is a new user', async () => {
    const email = uniqueEmail('again');
    await signUpRequest(api.baseUrl, { ...VALID, email });
    const session = await fetch(`${api.baseUrl}/v1/sessions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password: VALID.password }),
    });
    const { token } = (await session.json()) as { token: string };
    expect((await deleteAs(`Bearer ${token}`)).status).toBe(204);

    expect((await signUpRequest(api.baseUrl, { ...VALID, email })).status).toBe(201);
  });

  it.each([
    ['no token', undefined],
    ['a malformed token', 'Bearer not a token'],
  ])(
    'when the request carries %s, then it answers 401 and deletes nothing',
    async (_what, header) => {
      await userWithToken('kept');
      const before = await counts();

      const response = await deleteAs(header);

      expect(response.status).toBe(401);
      expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(await counts()).toEqual(before);
    },
  );
});

describe('POST /v1/sessions', () => {
  const login = (body: unknown) =>
    fetch(`${api.baseUrl}/v1/sessions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  it('when the credentials are right, then it returns a signed JWT for the user with its expiry', async () => {
    const email = uniqueEmail('login');
    const user = (await (await signUpRequest(api.baseUrl, { ...VALID, email })).json()) as {
      id: string;
    };
    const response = await login({ email: email.toUpperCase(), password: VALID.password });
    expect(response.status).toBe(200);
    const session = (await response.json()) as { token: string; expiresAt: string };
    expect(decodeProtectedHeader(session.token)).toMatchObject({ alg: 'HS256', kid: 'test-key' });
    const claims = decodeJwt(session.token);
    expect(claims.sub).toBe(user.id);
    expect(new Date(session.expiresAt).getTime()).toBe((claims.exp ?? 0) * 1000);
    expect(JSON.stringify(claims)).not.toContain(email);
  });

  it('when the password is wrong or the email unknown, then both get the same 401', async () => {
    const email = uniqueEmail('wrong');
    await signUpRequest(api.baseUrl, { ...VALID, email });
    const wrongPassword = await login({ email, password: 'not the right password' });
    const unknownEmail = await login({ email: uniqueEmail('nobody'), password: VALID.password });
    expect(wrongPassword.status).toBe(401);
    expect(unknownEmail.status).toBe(401);
    expect(await wrongPassword.json()).toEqual(await unknownEmail.json());
  });

  it('when the body is invalid, then 400 lists the fields', async () => {
    const response = await login({ email: 'nope', extra: 1 });
    expect(response.status).toBe(400);
    const problem = (await response.json()) as { errors: Array<{ field: string }> };
    expect(problem.errors.map((error) => error.field).sort()).toEqual([
      'email',
      'extra',
      'password',
    ]);
  });
});

describe('operational endpoints', () => {
  it('serves liveness, readiness and Prometheus metrics', async () => {
    expect((await fetch(`${api.baseUrl}/healthz`)).status).toBe(200);
    const ready = await fetch(`${api.baseUrl}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', dependencies: { postgres: 'up' } });
    const metrics = await (await fetch(`${api.baseUrl}/metrics`)).text();
    expect(metrics).toContain('signupflow_http_server_request_duration_seconds_bucket{');
    expect(metrics).toMatch(/route="\/v1\/users"/);
    expect(metrics).toContain('signupflow_outbox_pending_events');
    expect(metrics).toContain('nodejs_heap_size_total_bytes');
  });

  it('when the API root is opened, then it lists where each operation and endpoint is', async () => {
    const root = await fetch(`${api.baseUrl}/`);
    expect(root.status).toBe(200);
    const { links } = (await root.json()) as {
      links: Array<{ rel: string; method: string; href: string }>;
    };
    expect(links.map((link) => `${link.method} ${link.href}`)).toEqual(
      expect.arrayContaining([
        'POST /v1/users',
        'POST /v1/sessions',
        'GET /healthz',
        'GET /metrics',
      ]),
    );
    for (const link of links.filter((l) => l.method === 'GET' && l.href !== '/v1/users/me')) {
      expect((await fetch(`${api.baseUrl}${link.href}`)).status, link.href).toBe(200);
    }
  });

  it('answers unknown routes and methods with problems', async () => {
    const missing = await fetch(`${api.baseUrl}/v2/nothing`);
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const wrongMethod = await fetch(`${api.baseUrl}/v1/users`, { method: 'DELETE' });
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(wrongMethod.headers.get('allow')).toBe('POST');
    // A method served nowhere (501 to the router) and a write to a probe are 405s too.
    for (const [method, path, allow] of [
      ['PATCH', '/v1/sessions', 'POST'],
      ['POST', '/healthz', 'GET, HEAD'],
      ['PUT', '/metrics', 'GET, HEAD'],
    ] as const) {
      const refused = await fetch(`${api.baseUrl}${path}`, { method });
      expect(refused.status, `${method} ${path}`).toBe(405);
      expect(refused.headers.get('allow'), `${method} ${path}`).toBe(allow);
      expect(await refused.json()).toMatchObject({
        status: 405,
        type: 'urn:signup-flow:problem:method-not-allowed',
      });
    }
  });
});
