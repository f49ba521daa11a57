// RFC 7662 introspection of an opaque access token, authenticated as the configured client.
import type { ClientAuthenticator } from './client-auth.js';
import { requestSignal } from './discovery.js';

/** The server's answer: `{"active": false}`, or the token's claims with `active: true`. */
export async function introspect(
  endpoint: string,
  token: string,
  auth: ClientAuthenticator,
  signal: AbortSignal,
): Promise<Record<string, unknown>> {
  const { headers, form } = await auth.authenticate();
  const response = await fetch(endpoint, {
    method: 'POST',
    headers: { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams({ ...form, token, token_type_hint: 'access_token' }).toString(),
    signal: requestSignal(signal),
  });
  if (response.status !== 200) {
    const detail = response.status === 401 ? ': the introspection credentials were refused' : '';
    await response.body?.cancel();
    throw new Error(`${endpoint} answered ${response.status}${detail}`);
  }
  const answer: unknown = await response.json();
  if (typeof answer !== 'object' || answer === null || Array.isArray(answer)) throw new Error(`${endpoint} answered no JSON object`);
  return answer as Record<string, unknown>;
}
