// OAuth clients: registration with its rules, and authentication on every request.
import { randomBytes } from 'node:crypto';
import type { Store } from '../store/store.js';
import type { ClientRecord, TokenFormat } from '../store/clients.js';
import type { LiveState } from '../tokens/live-state.js';
import { AdminError } from './errors.js';
import type { ClientSecrets } from './client-secrets.js';
import { isScopeToken } from './scopes.js';

export const GRANT_TYPES = ['authorization_code', 'client_credentials', 'password', 'refresh_token'] as const;

export const DEFAULT_ACCESS_TTL = 300;
export const DEFAULT_REFRESH_TTL = 86_400;
const MAX_TTL = 366 * 86_400;
const MAX_SECRET_LENGTH = 512;

export interface ClientRegistration {
  name: string;
  public?: boolean;
  grants?: string[];
  scopes?: string[];
  tokenFormat?: string;
  accessTtl?: number;
  refreshTtl?: number;
  audience?: string;
  redirectUris?: string[];
  introspect?: boolean;
  browser?: boolean;
}

function checkRedirectUri(uri: string): void {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new AdminError(`redirect URI is not an absolute URI: "${uri}"`);
  }
  if (url.hash || uri.includes('#')) throw new AdminError(`redirect URI must not have a fragment (RFC 6749 §3.1.2): "${uri}"`);
  if (/\s/.test(uri)) throw new AdminError(`redirect URI must not contain spaces: "${uri}"`);
  const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  if (url.protocol === 'http:' && !loopback) throw new AdminError(`redirect URI must use https (or http on loopback): "${uri}"`);
  if (url.protocol === 'javascript:' || url.protocol === 'data:') throw new AdminError(`redirect URI scheme not allowed: "${uri}"`);
}

function ttl(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1 || value > MAX_TTL)
    throw new AdminError(`${name} must be a whole number of seconds from 1 to ${MAX_TTL}`);
  return value;
}

export class Clients {
  constructor(
    private readonly store: Store,
    private readonly state: LiveState,
    private readonly secrets: ClientSecrets,
  ) {}

  /** Registers a client; the secret (confidential clients) is returned here and never again. */
  async register(input: ClientRegistration): Promise<{ client: ClientRecord; secret: string | null }> {
    const name = input.name.trim();
    if (name.length === 0 || name.length > 200) throw new AdminError('--name must be 1 to 200 characters');
    const isPublic = input.public === true;
    const grants = [...new Set(input.grants?.length ? input.grants : [isPublic ? 'authorization_code' : 'client_credentials'])];
    for (const grant of grants) {
      if (!(GRANT_TYPES as readonly string[]).includes(grant))
        throw new AdminError(`unknown grant "${grant}" (one of: ${GRANT_TYPES.join(', ')})`);
    }
    if (isPublic && grants.includes('client_credentials')) throw new AdminError('a public client cannot use client_credentials');
    if (isPublic && input.introspect) throw new AdminError('a public client cannot introspect');
    // A grant that issues refresh tokens implies refresh_token, or they could never be used.
    if ((grants.includes('password') || grants.includes('authorization_code')) && !grants.includes('refresh_token'))
      grants.push('refresh_token');
    const scopes = [...new Set(input.scopes ?? [])];
    for (const scope of scopes) if (!isScopeToken(scope)) throw new AdminError(`invalid scope "${scope}" (RFC 6749 §3.3)`);
    const tokenFormat = (input.tokenFormat ?? 'opaque') as TokenFormat;
    if (tokenFormat !== 'opaque' && tokenFormat !== 'jwt') throw new AdminError('--token-format must be opaque or jwt');
    const redirectUris = [...new Set(input.redirectUris ?? [])];
    redirectUris.forEach(checkRedirectUri);
    if (grants.includes('authorization_code') && redirectUris.length === 0)
      throw new AdminError('authorization_code needs at least one --redirect-uri');
    if (input.audience !== undefined && (input.audience.length === 0 || input.audience.length > 500 || /\s/.test(input.audience))) {
      throw new AdminError('--audience must be 1 to 500 characters without spaces');
    }
    const generated = isPublic ? null : this.secrets.generate();
    const client = await this.store.clients.create({
      id: randomBytes(16).toString('base64url'),
      name,
      secretDigest: generated?.digest ?? null,
      grants,
      scopes,
      redirectUris,
      tokenFormat,
      accessTtl: ttl(input.accessTtl, DEFAULT_ACCESS_TTL, '--access-ttl'),
      refreshTtl: ttl(input.refreshTtl, DEFAULT_REFRESH_TTL, '--refresh-ttl'),
      audience: input.audience ?? null,
      canIntrospect: input.introspect === true,
      browser: input.browser === true,
    });
    return { client, secret: generated?.secret ?? null };
  }

  /**
   * The client these credentials authenticate, or null. A confidential client must present its
   * secret; a public client must present none. The comparison is constant-time.
   */
  async authenticate(clientId: string, secret: string | undefined): Promise<ClientRecord | null> {
    if (clientId.length > 128 || (secret !== undefined && secret.length > MAX_SECRET_LENGTH)) return null;
    const lookup = this.state.clients.get(clientId);
    const client = lookup instanceof Promise ? await lookup : lookup;
    if (!client) return null;
    if (client.secretDigest === null) return secret === undefined ? client : null;
    return secret !== undefined && this.secrets.matches(secret, client.secretDigest) ? client : null;
  }

  async get(id: string): Promise<ClientRecord> {
    const client = await this.store.clients.byId(id);
    if (!client) throw new AdminError(`no client "${id}"`);
    return client;
  }

  list(): Promise<ClientRecord[]> {
    return this.store.clients.list();
  }

  async rotateSecret(id: string): Promise<string> {
    const client = await this.get(id);
    if (client.secretDigest === null) throw new AdminError('a public client has no secret');
    const { secret, digest } = this.secrets.generate();
    await this.store.clients.setSecretDigest(client.id, digest);
    return secret;
  }

  async delete(id: string): Promise<void> {
    await this.store.clients.delete((await this.get(id)).id);
  }
}
