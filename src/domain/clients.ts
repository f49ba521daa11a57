// OAuth clients: registration with its rules, and authentication on every request.
import { randomBytes } from 'node:crypto';
import type { JSONWebKeySet } from 'jose';
import { isLoopbackHost } from '../config.js';
import type { ClientRecord, TokenFormat } from '../records.js';
import type { ClientStore } from '../store/clients.js';
import type { LoadingCache } from '../store/read-cache.js';
import { AdminError } from './errors.js';
import type { AssertionCheck, ClientAssertions } from './client-assertions.js';
import { checkJwksUri, ClientKeysError, parseJwkSet } from './client-keys.js';
import type { ClientSecrets } from './client-secrets.js';
import { isScopeToken } from './scopes.js';

/** What registration must know of each grant type; src/oauth/grants/ declares them. */
export interface GrantRules {
  name: string;
  /** It issues refresh tokens, so a client registered for it may also use refresh_token. */
  issuesRefreshToken: boolean;
  publicClientAllowed: boolean;
  /** The user is sent back to a registered redirect URI (the code flow). */
  needsRedirectUri: boolean;
}

export const DEFAULT_ACCESS_TTL = 300;
export const DEFAULT_REFRESH_TTL = 86_400;
export const DEFAULT_MAX_SESSION = 30 * 86_400;
/** The longest lifetime a token may be given: a year and a day. */
export const MAX_TTL = 366 * 86_400;
const MAX_SECRET_LENGTH = 512;
/** Issued ids are 22 characters; anything much longer is refused before it reaches the cache or the database. */
const MAX_CLIENT_ID_LENGTH = 128;

export interface ClientRegistration {
  name: string;
  public?: boolean;
  grants?: string[];
  scopes?: string[];
  tokenFormat?: string;
  accessTtl?: number;
  refreshTtl?: number;
  maxSession?: number;
  audience?: string;
  redirectUris?: string[];
  origins?: string[];
  introspect?: boolean;
  browser?: boolean;
  /** A JWK Set as JSON text (what `--jwks FILE` holds): the client authenticates with private_key_jwt. */
  jwks?: string;
  /** Where the client publishes its JWK Set, instead of `jwks`. */
  jwksUri?: string;
}

/** How a client proves who it is: a secret, an assertion (RFC 7523), or a client_id alone. */
export type ClientCredentials = { clientId: string; secret?: string } | ({ assertion: string } & AssertionCheck);

/** A public client has neither a secret nor keys: it cannot prove who it is. */
export function isPublicClient(client: ClientRecord): boolean {
  return client.secretDigest === null && client.jwks === null && client.jwksUri === null;
}

/** The client's token_endpoint_auth_method (RFC 7591 §2). */
export function authMethod(client: ClientRecord): 'client_secret_basic' | 'private_key_jwt' | 'none' {
  if (client.secretDigest !== null) return 'client_secret_basic';
  return isPublicClient(client) ? 'none' : 'private_key_jwt';
}

/** The keys of a registration, checked; null when it has none. */
function registeredKeys(input: ClientRegistration): { jwks: JSONWebKeySet | null; jwksUri: string | null } {
  if (input.jwks !== undefined && input.jwksUri !== undefined) throw new AdminError('give --jwks or --jwks-uri, not both');
  if (input.public === true && (input.jwks !== undefined || input.jwksUri !== undefined))
    throw new AdminError('a public client has no keys: --jwks and --jwks-uri make a confidential client');
  try {
    if (input.jwksUri !== undefined) checkJwksUri(input.jwksUri);
    return { jwks: input.jwks === undefined ? null : parseJwkSet(input.jwks), jwksUri: input.jwksUri ?? null };
  } catch (error) {
    if (error instanceof ClientKeysError) throw new AdminError(`${input.jwks === undefined ? '--jwks-uri' : '--jwks'}: ${error.message}`);
    throw error;
  }
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
  if (url.protocol === 'http:' && !isLoopbackHost(url.hostname))
    throw new AdminError(`redirect URI must use https (or http on loopback): "${uri}"`);
  if (url.protocol === 'javascript:' || url.protocol === 'data:') throw new AdminError(`redirect URI scheme not allowed: "${uri}"`);
}

/** An origin as browsers send it in `Origin`: scheme, host and port, nothing more. */
function checkOrigin(origin: string): void {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    throw new AdminError(`origin is not a URL: "${origin}"`);
  }
  if (url.origin !== origin) throw new AdminError(`origin must be scheme://host[:port] with nothing after it: "${origin}"`);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname)))
    throw new AdminError(`origin must use https (or http on loopback): "${origin}"`);
}

function ttl(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1 || value > MAX_TTL)
    throw new AdminError(`${name} must be a whole number of seconds from 1 to ${MAX_TTL}`);
  return value;
}

/** 128 random bits, base64url, never starting with '-': ids are typed as command-line arguments. */
function newClientId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

export class Clients {
  private readonly grantRules: ReadonlyMap<string, GrantRules>;
  /** What each derived value (see `derive`) does when a client changes: forget itself. */
  private readonly derivedValues = new Set<() => void>();

  constructor(
    private readonly store: ClientStore,
    private readonly cached: LoadingCache<ClientRecord | null>,
    private readonly secrets: ClientSecrets,
    grants: readonly GrantRules[],
    private readonly assertions: Pick<ClientAssertions, 'authenticate'>,
  ) {
    this.grantRules = new Map(grants.map((grant) => [grant.name, grant]));
  }

  /**
   * Registers a client; the secret (confidential clients without keys) is returned here and never
   * again. A client registered with keys gets no secret: it authenticates by assertion only.
   */
  async register(input: ClientRegistration): Promise<{ client: ClientRecord; secret: string | null }> {
    const name = input.name.trim();
    if (name.length === 0 || name.length > 200) throw new AdminError('--name must be 1 to 200 characters');
    const isPublic = input.public === true;
    const keys = registeredKeys(input);
    const grants = [...new Set(input.grants?.length ? input.grants : [isPublic ? 'authorization_code' : 'client_credentials'])];
    const rules = grants.map((grant) => {
      const found = this.grantRules.get(grant);
      if (!found) throw new AdminError(`unknown grant "${grant}" (one of: ${[...this.grantRules.keys()].join(', ')})`);
      return found;
    });
    for (const rule of rules) if (isPublic && !rule.publicClientAllowed) throw new AdminError(`a public client cannot use ${rule.name}`);
    if (isPublic && input.introspect) throw new AdminError('a public client cannot introspect');
    // A grant that issues refresh tokens implies refresh_token, or they could never be used.
    if (rules.some((rule) => rule.issuesRefreshToken) && !grants.includes('refresh_token')) grants.push('refresh_token');
    const scopes = [...new Set(input.scopes ?? [])];
    for (const scope of scopes) if (!isScopeToken(scope)) throw new AdminError(`invalid scope "${scope}" (RFC 6749 §3.3)`);
    const tokenFormat = (input.tokenFormat ?? 'opaque') as TokenFormat;
    if (tokenFormat !== 'opaque' && tokenFormat !== 'jwt') throw new AdminError('--token-format must be opaque or jwt');
    const redirectUris = [...new Set(input.redirectUris ?? [])];
    redirectUris.forEach(checkRedirectUri);
    const origins = [...new Set(input.origins ?? [])];
    origins.forEach(checkOrigin);
    for (const rule of rules) {
      if (rule.needsRedirectUri && redirectUris.length === 0) throw new AdminError(`${rule.name} needs at least one --redirect-uri`);
    }
    if (input.audience !== undefined && (input.audience.length === 0 || input.audience.length > 500 || /\s/.test(input.audience))) {
      throw new AdminError('--audience must be 1 to 500 characters without spaces');
    }
    const generated = isPublic || keys.jwks !== null || keys.jwksUri !== null ? null : this.secrets.generate();
    const client = await this.store.create({
      id: newClientId(),
      name,
      secretDigest: generated?.digest ?? null,
      grants,
      scopes,
      redirectUris,
      origins,
      tokenFormat,
      accessTtl: ttl(input.accessTtl, DEFAULT_ACCESS_TTL, '--access-ttl'),
      refreshTtl: ttl(input.refreshTtl, DEFAULT_REFRESH_TTL, '--refresh-ttl'),
      maxSession: ttl(input.maxSession, DEFAULT_MAX_SESSION, '--max-session'),
      audience: input.audience ?? null,
      canIntrospect: input.introspect === true,
      browser: input.browser === true,
      ...keys,
    });
    return { client, secret: generated?.secret ?? null };
  }

  /**
   * The client these credentials authenticate, or null. A client with a secret must present it
   * (compared in constant time), a client with keys an assertion, and a public client nothing.
   * An assertion that fails throws a ClientAssertionError saying why.
   */
  async authenticate(credentials: ClientCredentials): Promise<ClientRecord | null> {
    if ('assertion' in credentials) return this.assertions.authenticate(credentials.assertion, credentials);
    const { clientId, secret } = credentials;
    if (clientId.length > MAX_CLIENT_ID_LENGTH || (secret !== undefined && secret.length > MAX_SECRET_LENGTH)) return null;
    const client = await this.cached.get(clientId);
    if (!client) return null;
    if (isPublicClient(client)) return secret === undefined ? client : null;
    return secret !== undefined && client.secretDigest !== null && this.secrets.matches(secret, client.secretDigest) ? client : null;
  }

  /** The client, read through the cache (the hot paths); null when there is none. */
  async find(id: string): Promise<ClientRecord | null> {
    return id.length > MAX_CLIENT_ID_LENGTH ? null : this.cached.get(id);
  }

  /** The client, or an AdminError naming it (the admin command). */
  async get(id: string): Promise<ClientRecord> {
    const client = await this.store.byId(id);
    if (!client) throw new AdminError(`no client "${id}"`);
    return client;
  }

  list(): Promise<ClientRecord[]> {
    return this.store.list();
  }

  /**
   * A value computed from every registered client (what discovery publishes): computed when first
   * asked for, then held until a client is created, changed or deleted (`changed`), so that no
   * request reads the client table.
   */
  derive<T>(compute: (clients: ClientRecord[]) => T): () => Promise<T> {
    let current: Promise<T> | undefined;
    this.derivedValues.add(() => {
      current = undefined;
    });
    return () => {
      if (!current) {
        const computing = this.store.list().then(compute);
        // A failed read is not kept: the next request tries again.
        computing.catch(() => {
          if (current === computing) current = undefined;
        });
        current = computing;
      }
      return current;
    };
  }

  /** A client was created, changed or deleted, here or on another instance (the change feed). */
  changed(): void {
    for (const forget of this.derivedValues) forget();
  }

  async rotateSecret(id: string): Promise<string> {
    const client = await this.get(id);
    if (client.secretDigest === null)
      throw new AdminError(
        isPublicClient(client) ? 'a public client has no secret' : 'this client has keys, not a secret (private_key_jwt)',
      );
    const { secret, digest } = this.secrets.generate();
    await this.store.setSecretDigest(client.id, digest);
    return secret;
  }

  async delete(id: string): Promise<void> {
    await this.store.delete((await this.get(id)).id);
  }
}
