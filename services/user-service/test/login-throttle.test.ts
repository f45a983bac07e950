import { waitUntil } from '@signup-flow/local-stack';
import type { Knex } from 'knex';
import { beforeAll, describe, expect, it } from 'vitest';
import { migratedDatabase, signUpRequest, startApi } from './fixtures.js';

const PASSWORD = 'correct horse battery';
let db: Knex;
let databaseUrl: string;

beforeAll(async () => {
  ({ db, url: databaseUrl } = await migratedDatabase());
});

function uniqueEmail(tag: string) {
  return `${tag}-${Math.random().toString(36).slice(2)}@example.com`;
}

async function signUp(baseUrl: string, tag: string): Promise<string> {
  const email = uniqueEmail(tag);
  const response = await signUpRequest(baseUrl, { email, password: PASSWORD, name: 'Throttled' });
  expect(response.status).toBe(201);
  return email;
}

function logIn(baseUrl: string, email: string, password: string, client?: string) {
  return fetch(`${baseUrl}/v1/sessions`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(client ? { 'x-forwarded-for': client } : {}),
    },
    body: JSON.stringify({ email, password }),
  });
}

async function statuses(responses: Array<Promise<Response>>): Promise<number[]> {
  return (await Promise.all(responses)).map((response) => response.status);
}

describe('failed logins, throttled in PostgreSQL', () => {
  it('when an account has its limit of failures, then every attempt on it (the right password too) answers 429 with Retry-After, while another account logs in', async () => {
    const api = await startApi(databaseUrl, {
      loginThrottle: { perAccount: 5, windowSeconds: 900 },
    });
    const victim = await signUp(api.baseUrl, 'victim');
    const bystander = await signUp(api.baseUrl, 'bystander');

    for (let attempt = 0; attempt < 5; attempt++) {
      expect((await logIn(api.baseUrl, victim, 'wrong password!')).status).toBe(401);
    }
    const refused = await logIn(api.baseUrl, victim, PASSWORD);

    expect(refused.status).toBe(429);
    expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(Number.isInteger(retryAfter) && retryAfter > 0 && retryAfter <= 900).toBe(true);
    expect(await refused.json()).toMatchObject({
      type: 'urn:signup-flow:problem:too-many-requests',
      status: 429,
    });
    expect((await logIn(api.baseUrl, bystander, PASSWORD)).status).toBe(200);
  });

  it('when 20 guesses arrive at once, then no more than the limit get a password check', async () => {
    const api = await startApi(databaseUrl, { loginThrottle: { perAccount: 5 } });
    const email = await signUp(api.baseUrl, 'burst');
    const answers = await statuses(
      Array.from({ length: 20 }, () => logIn(api.baseUrl, email, 'wrong password!')),
    );
    expect(answers.filter((status) => status === 401)).toHaveLength(5);
    expect(answers.filter((status) => status === 429)).toHaveLength(15);
  });

  it('when the failures go to two replicas, then they count together', async () => {
    const limits = { loginThrottle: { perAccount: 4 } };
    const [first, second] = [
      await startApi(databaseUrl, limits),
      await startApi(databaseUrl, limits),
    ];
    const email = await signUp(first.baseUrl, 'replicas');
    expect(
      await statuses([
        logIn(first.baseUrl, email, 'wrong password!'),
        logIn(second.baseUrl, email, 'wrong password!'),
        logIn(first.baseUrl, email, 'wrong password!'),
        logIn(second.baseUrl, email, 'wrong password!'),
      ]),
    ).toEqual([401, 401, 401, 401]);
    expect((await logIn(first.baseUrl, email, PASSWORD)).status).toBe(429);
    expect((await logIn(second.baseUrl, email, PASSWORD)).status).toBe(429);
  });

  it('when an unknown email fails as often, then it is throttled the same way (no telling which accounts exist)', async () => {
    const api = await startApi(databaseUrl, { loginThrottle: { perAccount: 3 } });
    const nobody = uniqueEmail('nobody');
    for (let attempt = 0; attempt < 3; attempt++) {
      expect((await logIn(api.baseUrl, nobody, PASSWORD)).status).toBe(401);
    }
    expect((await logIn(api.baseUrl, nobody, PASSWORD)).status).toBe(429);
  });

  it('when one client address guesses across accounts, then that client is refused for all, and other clients are not', async () => {
    const api = await startApi(databaseUrl, {
      loginThrottle: { perAccount: 100, perClient: 3 },
      trustProxy: true,
    });
    const accounts = [await signUp(api.baseUrl, 'a'), await signUp(api.baseUrl, 'b')];
    const guesser = '203.0.113.7';
    expect(
      await statuses([
        logIn(api.baseUrl, accounts[0] as string, 'wrong password!', guesser),
        logIn(api.baseUrl, accounts[1] as string, 'wrong password!', guesser),
        logIn(api.baseUrl, uniqueEmail('c'), 'wrong password!', guesser),
      ]),
    ).toEqual([401, 401, 401]);
    expect((await logIn(api.baseUrl, accounts[1] as string, PASSWORD, guesser)).status).toBe(429);
    expect((await logIn(api.baseUrl, accounts[1] as string, PASSWORD, '198.51.100.2')).status).toBe(
      200,
    );
  });

  it('when a login succeeds, then the account’s failures are forgotten', async () => {
    const api = await startApi(databaseUrl, { loginThrottle: { perAccount: 3 } });
    const email = await signUp(api.baseUrl, 'forgiven');
    for (let round = 0; round < 2; round++) {
      expect(await statuses([logIn(api.baseUrl, email, 'wrong password!')])).toEqual([401]);
      expect(await statuses([logIn(api.baseUrl, email, 'wrong password!')])).toEqual([401]);
      expect((await logIn(api.baseUrl, email, PASSWORD)).status).toBe(200);
    }
  });

  it('when the window has passed, then the account may try again', async () => {
    const api = await startApi(databaseUrl, { loginThrottle: { perAccount: 2, windowSeconds: 1 } });
    const email = await signUp(api.baseUrl, 'patient');
    await logIn(api.baseUrl, email, 'wrong password!');
    await logIn(api.baseUrl, email, 'wrong password!');
    expect((await logIn(api.baseUrl, email, PASSWORD)).status).toBe(429);
    await waitUntil(
      'the window to pass',
      async () => (await logIn(api.baseUrl, email, PASSWORD)).status === 200,
      10_000,
      250,
    );
  });

  it('stores neither email addresses nor client addresses', async () => {
    const api = await startApi(databaseUrl, { trustProxy: true });
    const email = uniqueEmail('private');
    await logIn(api.baseUrl, email, PASSWORD, '192.0.2.55');
    const rows = JSON.stringify(await db('login_failures').select('*'));
    expect(rows).not.toContain(email.split('@')[0]);
    expect(rows).not.toContain('192.0.2.55');
  });
});
