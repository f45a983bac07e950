import type { UserCreatedEvent } from '@signup-flow/events';
import type { StoredUser } from './user.js';

/** Where users are kept; the use cases see only this (data/user-store.ts implements it). */
export interface UserStore {
  /**
   * Stores the user and its UserCreated event together, or neither: the event exists exactly when
   * the user does. Rejects with {@link EmailTakenError} when the email is registered already.
   */
  addWithEvent(user: StoredUser, event: UserCreatedEvent): Promise<void>;
  findById(id: string): Promise<StoredUser | undefined>;
  /** Compared case-insensitively. */
  findByEmail(email: string): Promise<StoredUser | undefined>;
  /** False when there was no such user. */
  deleteById(id: string): Promise<boolean>;
}
