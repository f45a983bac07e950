import { createUserCreatedEvent } from '@signup-flow/events';
import { v7 as uuidv7 } from 'uuid';
import type { PasswordHasher } from './password-hasher.js';
import type { NewUser, User } from './user.js';
import type { UserStore } from './user-store.js';

export interface SignUpDeps {
  users: UserStore;
  hasher: PasswordHasher;
  /** CloudEvents `source` of the events this service writes. */
  eventSource: string;
}

/**
 * Stores the user and its UserCreated event together, so the event exists exactly when the user
 * does. Publishing is the outbox relay's job; signup never waits for NATS.
 */
export async function signUp(deps: SignUpDeps, request: NewUser): Promise<User> {
  const passwordHash = await deps.hasher.hash(request.password);
  const user: User = {
    id: uuidv7(),
    email: request.email,
    name: request.name,
    createdAt: new Date().toISOString(),
  };
  const event = createUserCreatedEvent({
    source: deps.eventSource,
    data: { userId: user.id, email: user.email, name: user.name, createdAt: user.createdAt },
  });
  await deps.users.addWithEvent({ ...user, passwordHash }, event);
  return user;
}
