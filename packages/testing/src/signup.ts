/** `POST /v1/users` for `email`, with a valid password and name: a signup as any client makes it. */
export function signUp(baseUrl: string, email: string, name = 'Signed Up'): Promise<Response> {
  return fetch(`${baseUrl}/v1/users`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password: 'a long enough password', name }),
  });
}
