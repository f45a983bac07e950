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
