// RFC 8414 server metadata: where the keys and the introspection endpoint are.

export interface ServerMetadata {
  issuer: string;
  jwks_uri: string;
  introspection_endpoint?: string;
}

/** How long the server has to answer a request of the verifier's own. */
export const REQUEST_TIMEOUT_MS = 5_000;

/** `signal` ends the request early (the verifier closing); a timeout bounds it anyway. */
export function requestSignal(signal: AbortSignal): AbortSignal {
  return AbortSignal.any([signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)]);
}

/** The issuer's metadata; its `issuer` must be exactly the one configured (RFC 8414 §3.3). */
export async function discover(issuer: string, signal: AbortSignal): Promise<ServerMetadata> {
  const url = `${issuer.replace(/\/+$/, '')}/.well-known/oauth-authorization-server`;
  const response = await fetch(url, { headers: { accept: 'application/json' }, signal: requestSignal(signal) });
  if (response.status !== 200) throw new Error(`${url} answered ${response.status}`);
  const metadata = (await response.json()) as Partial<Record<keyof ServerMetadata, unknown>>;
  if (metadata.issuer !== issuer)
    throw new Error(`${url} names the issuer ${JSON.stringify(metadata.issuer)}, not ${JSON.stringify(issuer)}`);
  if (typeof metadata.jwks_uri !== 'string') throw new Error(`${url} has no jwks_uri`);
  const introspection = metadata.introspection_endpoint;
  return {
    issuer,
    jwks_uri: metadata.jwks_uri,
    ...(typeof introspection === 'string' ? { introspection_endpoint: introspection } : {}),
  };
}
