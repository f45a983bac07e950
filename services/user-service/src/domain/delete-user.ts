import { UserNotFoundError } from './errors.js';
import type { UserStore } from './user-store.js';

/**
 * Deletes the account. Its UserCreated event stays in the outbox and the stream: it records what
 * happened, and the welcome email it caused has been sent (or is on its way).
 */
export async function deleteUser(users: UserStore, id: string): Promise<void> {
  if (!(await users.deleteById(id))) throw new UserNotFoundError(`no user ${id}`);
}
