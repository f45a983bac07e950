import { UserNotFoundError } from './errors.js';
import type { User } from './user.js';
import type { UserStore } from './user-store.js';

export async function getUser(users: UserStore, id: string): Promise<User> {
  const stored = await users.findById(id);
  if (!stored) throw new UserNotFoundError(`no user ${id}`);
  const { passwordHash: _hidden, ...user } = stored;
  return user;
}
