import type { Knex } from 'knex';
import { findUserById } from '../data/users-repository.js';
import { UserNotFoundError } from './errors.js';
import type { User } from './user.js';

export async function getUser(db: Knex, id: string): Promise<User> {
  const stored = await findUserById(db, id);
  if (!stored) throw new UserNotFoundError(`no user ${id}`);
  const { passwordHash: _hidden, ...user } = stored;
  return user;
}
