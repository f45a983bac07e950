import type { Knex } from 'knex';
import type { StoredUser } from '../domain/user.js';

interface UserRow {
  id: string;
  email: string;
  name: string;
  password_hash: string;
  created_at: Date;
}

function toStoredUser(row: UserRow): StoredUser {
  return {
    id: row.id,
    email: row.email,
    name: row.name,
    createdAt: row.created_at.toISOString(),
    passwordHash: row.password_hash,
  };
}

const UNIQUE_VIOLATION = '23505';
const EMAIL_INDEX = 'users_email_lower_unique';

export function isDuplicateEmail(error: unknown): boolean {
  const pgError = error as { code?: string; constraint?: string };
  return pgError.code === UNIQUE_VIOLATION && pgError.constraint === EMAIL_INDEX;
}

/** The insert of a new user, to run alone or inside a larger statement. */
export function insertUser(db: Knex, user: StoredUser): Knex.QueryBuilder {
  return db<UserRow>('users').insert({
    id: user.id,
    email: user.email,
    name: user.name,
    password_hash: user.passwordHash,
    created_at: new Date(user.createdAt),
  });
}

export async function findUserById(db: Knex, id: string): Promise<StoredUser | undefined> {
  const row = await db<UserRow>('users').where({ id }).first();
  return row && toStoredUser(row);
}

export async function findUserByEmail(db: Knex, email: string): Promise<StoredUser | undefined> {
  const row = await db<UserRow>('users').whereRaw('lower(email) = lower(?)', [email]).first();
  return row && toStoredUser(row);
}

/** Deletes the user; false when there was none. */
export async function deleteUserById(db: Knex, id: string): Promise<boolean> {
  return (await db<UserRow>('users').where({ id }).delete()) > 0;
}
