import { encodeAccount, encodeOperator, encodeUser, fmtCreds } from '@nats-io/jwt';
import { createAccount, createOperator, createUser } from '@nats-io/nkeys';
import type { NatsOperatorTrust } from '@signup-flow/local-stack';

export interface IssuedCredentials {
  /** What nats-server must trust (see NatsServerOptions.operator). */
  trust: NatsOperatorTrust;
  /** A `.creds` file's content per user name. */
  creds: Record<string, Uint8Array>;
}

/**
 * An operator, its system account and one application account with JetStream, and a user JWT for
 * each name, signed by the application account: what `nsc` would set up for a deployment.
 */
export async function issueCredentials(userNames: string[]): Promise<IssuedCredentials> {
  const operator = createOperator();
  const system = createAccount();
  const application = createAccount();
  const operatorJwt = await encodeOperator('signup-flow-test', operator, {
    system_account: system.getPublicKey(),
  });
  const systemJwt = await encodeAccount('SYS', system, {}, { signer: operator });
  const applicationJwt = await encodeAccount(
    'SIGNUP_FLOW',
    application,
    {
      // A partial limits object leaves the rest at 0 (no connections, no subscriptions).
      limits: {
        ...{ subs: -1, data: -1, payload: -1, conn: -1, leaf: -1, imports: -1, exports: -1 },
        ...{ wildcards: true, disk_storage: -1, mem_storage: -1, streams: -1, consumer: -1 },
      },
    },
    { signer: operator },
  );
  const creds: Record<string, Uint8Array> = {};
  for (const name of userNames) {
    const user = createUser();
    creds[name] = fmtCreds(await encodeUser(name, user, application), user);
  }
  return {
    trust: {
      operatorJwt,
      systemAccount: system.getPublicKey(),
      accountJwts: {
        [system.getPublicKey()]: systemJwt,
        [application.getPublicKey()]: applicationJwt,
      },
    },
    creds,
  };
}

/** A `.creds` file for a user of an account the server does not trust. */
export async function untrustedCredentials(name: string): Promise<Uint8Array> {
  const stranger = createAccount();
  const user = createUser();
  return fmtCreds(await encodeUser(name, user, stranger), user);
}
