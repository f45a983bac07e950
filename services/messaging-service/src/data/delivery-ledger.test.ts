import { randomUUID } from 'node:crypto';
import { createDatabase, migrateToLatest } from '@signup-flow/postgres';
import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../../test/support/harness.js';
import { DELIVERY_STATUSES, DeliveryLedger } from './delivery-ledger.js';
import { MIGRATIONS } from './migrations.js';

let db: Knex;
let ledger: DeliveryLedger;

beforeAll(async () => {
  db = createDatabase({
    url: await createTestDatabase('ledger'),
    poolMax: 4,
    applicationName: 'ledger test',
  });
  await migrateToLatest(db, MIGRATIONS);
  ledger = new DeliveryLedger(db);
});

afterAll(() => db.destroy());

async function sentDelivery(): Promise<string> {
  const eventId = randomUUID();
  const claim = await ledger.claim({
    eventId,
    userId: randomUUID(),
    messageId: `<${eventId}@signup-flow>`,
    leaseMs: 60_000,
  });
  expect(claim.kind).toBe('claimed');
  await ledger.markSent(eventId);
  return eventId;
}

describe('DeliveryLedger', () => {
  it.each([
    ['markRetrying', (eventId: string) => ledger.markRetrying(eventId, 'late timeout')],
    ['markFailed', (eventId: string) => ledger.markFailed(eventId, 'late refusal')],
  ] as const)(
    'when %s comes after the email was sent, then the delivery stays sent and cannot be claimed again',
    async (_name, reportFailure) => {
      const eventId = await sentDelivery();

      const delivery = await reportFailure(eventId);

      expect(delivery.status).toBe(DELIVERY_STATUSES.sent);
      expect((await ledger.find(eventId))?.status).toBe(DELIVERY_STATUSES.sent);
      const again = await ledger.claim({
        eventId,
        userId: randomUUID(),
        messageId: `<${eventId}@signup-flow>`,
        leaseMs: 60_000,
      });
      expect(again.kind).toBe('already-sent');
    },
  );
});
