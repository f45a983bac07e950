/** A user as the API shows it: never the password or its hash. */
export interface User {
  id: string;
  email: string;
  name: string;
  createdAt: string;
}

export interface NewUser {
  email: string;
  password: string;
  name: string;
}

export interface Credentials {
  email: string;
  password: string;
}

/** A user as stored: with its password's argon2id hash, which never leaves the service. */
export interface StoredUser extends User {
  passwordHash: string;
}
