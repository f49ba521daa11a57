// OAuth clients: registration with its rules, and authentication on every request.
import { randomBytes } from 'node:crypto';
import type { JSONWebKeySet } from 'jose';
import { isLoopbackHost } from '../config.js';
import type { ClientRecord, Page, TokenFormat } from '../records.js';
import type { ClientSettings, ClientStore, NewClient } from '../store/clients.js';
import type { LoadingCache } from '../store/read-cache.js';
import { AdminError, NoSuchError, pageOrRefuse, written } from './errors.js';
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

/** The scope that opens the admin API; only a client registered `--admin` may ask for it. */
export const ADMIN_SCOPE = 'tessera:admin';
/** The longest grace period a rotated secret may keep working (the contract: 7 days). */
export const MAX_SECRET_GRACE = 7 * 86_400;

/** A client's settings as registration takes them (the admin command's options, the admin API's fields). */
export interface ClientRegistration {
  name: string;
  public?: boolean;
  grants?: string[];
  scopes?: string[];
  tokenFormat?: string;
  accessTtl?: number;
  refreshTtl?: number;
  maxSession?: number;
  audience?: string | null;
  redirectUris?: string[];
  /** OpenID Connect RP-Initiated Logout: where /logout may send the browser back. */
  postLogoutRedirectUris?: string[];
  origins?: string[];
  introspect?: boolean;
  /** Third-party: the user approves its scopes on a consent page. */
  consent?: boolean;
  browser?: boolean;
  admin?: boolean;
  /** A JWK Set as JSON text (what `--jwks FILE` holds): the client authenticates with private_key_jwt. */
  jwks?: string | null;
  /** Where the client publishes its JWK Set, instead of `jwks`. */
  jwksUri?: string | null;
}

/** A change to a client: any setting, each left as it is when absent (null clears an optional one). */
export type ClientChange = Partial<ClientRegistration>;

/** How a client proves who it is: a secret, an assertion (RFC 7523), or a client_id alone. */
export type ClientCredentials = { clientId: string; secret?: string } | ({ assertion: string } & AssertionCheck);

/**
 * The secret digest of a client imported with a secret Tessera cannot verify (a hashed one): it
 * matches no secret (a real digest is 64 hex characters), so the client must rotate before use.
 */
export const SECRET_TO_ROTATE = '!rotate';

/**
 * An id another server gave a client: URL-safe, as it appears in paths (never only dots, which a
 * URL would read as a path step), and not taken for a command-line option.
 */
const IMPORTED_CLIENT_ID = /^(?!\.+$)[A-Za-z0-9._~][A-Za-z0-9._~-]{0,127}$/;

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
  const jwks = input.jwks ?? null;
  const jwksUri = input.jwksUri ?? null;
  if (jwks !== null && jwksUri !== null) throw new AdminError('give --jwks or --jwks-uri, not both');
  if (input.public === true && (jwks !== null || jwksUri !== null))
    throw new AdminError('a public client has no keys: --jwks and --jwks-uri make a confidential client');
  try {
    if (jwksUri !== null) checkJwksUri(jwksUri);
    return { jwks: jwks === null ? null : parseJwkSet(jwks), jwksUri };
  } catch (error) {
    if (error instanceof ClientKeysError) throw new AdminError(`${jwks === null ? '--jwks-uri' : '--jwks'}: ${error.message}`);
    throw error;
  }
}

/** A registered client's settings in the form registration takes them: what a change applies to. */
function asRegistration(client: ClientRecord): ClientRegistration {
  return {
    name: client.name,
    public: isPublicClient(client),
    grants: client.grants,
    // tessera:admin is implied by `admin`, not a scope of its own.
    scopes: client.scopes.filter((scope) => scope !== ADMIN_SCOPE),
    tokenFormat: client.tokenFormat,
    accessTtl: client.accessTtl,
    refreshTtl: client.refreshTtl,
    maxSession: client.maxSession,
    audience: client.audience,
    redirectUris: client.redirectUris,
    postLogoutRedirectUris: client.postLogoutRedirectUris,
    origins: client.origins,
    introspect: client.canIntrospect,
    consent: client.consent,
    browser: client.browser,
    admin: client.admin,
    jwks: client.jwks === null ? null : JSON.stringify(client.jwks),
    jwksUri: client.jwksUri,
  };
}

/** A redirect URI that cannot be registered (RFC 7591 answers these `invalid_redirect_uri`). */
export class RedirectUriError extends AdminError {}

/**
 * A URI the browser may be sent to, compared exactly when used: a redirect URI, or a post-logout
 * redirect URI (OpenID Connect RP-Initiated Logout §3.1, where the same rules protect the same thing).
 */
function checkRedirectUri(uri: string, what = 'redirect URI'): void {
  // RFC 7591 §3.2.2 keeps invalid_redirect_uri for redirect_uris; any other URI is client metadata.
  const refusal = (message: string) => (what === 'redirect URI' ? new RedirectUriError(message) : new AdminError(message));
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw refusal(`${what} is not an absolute URI: "${uri}"`);
  }
  if (url.hash || uri.includes('#')) throw refusal(`${what} must not have a fragment (RFC 6749 §3.1.2): "${uri}"`);
  if (/\s/.test(uri)) throw refusal(`${what} must not contain spaces: "${uri}"`);
  // Native apps use a loopback redirect (RFC 8252 §7.3): private-use schemes (§7.1) can be claimed
  // by any app on the device, so, as the contract says, nothing but https and loopback http.
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname)))
    throw refusal(`${what} must use https (or http on loopback): "${uri}"`);
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

/** The fields that are set (a change leaves the others as they are; the audit log records these). */
export function withoutUndefined<T extends object>(change: T): Partial<T> {
  return Object.fromEntries(Object.entries(change).filter(([, value]) => value !== undefined)) as Partial<T>;
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
   * Checks a whole set of settings and puts them in the form the store keeps: every rule of
   * registration holds for an update too, so a change can never leave a client invalid.
   */
  private settle(input: ClientRegistration): ClientSettings {
    const name = input.name.trim();
    if (name.length === 0 || name.length > 200 || /[\x00-\x1f\x7f]/.test(name))
      throw new AdminError('--name must be 1 to 200 characters, without control characters');
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
    if (scopes.includes(ADMIN_SCOPE)) {
      if (input.admin !== true) throw new AdminError(`the scope ${ADMIN_SCOPE} is given by --admin, not --scope`);
      // What GET shows of an admin client, sent back as it is: the scope it has anyway.
      scopes.splice(scopes.indexOf(ADMIN_SCOPE), 1);
    }
    if (input.admin === true) {
      if (isPublic) throw new AdminError('an admin client must be confidential');
      if (!grants.includes('client_credentials')) throw new AdminError('an admin client needs the client_credentials grant');
      scopes.push(ADMIN_SCOPE);
    }
    const tokenFormat = (input.tokenFormat ?? 'opaque') as TokenFormat;
    if (tokenFormat !== 'opaque' && tokenFormat !== 'jwt') throw new AdminError('--token-format must be opaque or jwt');
    const redirectUris = [...new Set(input.redirectUris ?? [])];
    redirectUris.forEach((uri) => checkRedirectUri(uri));
    const postLogoutRedirectUris = [...new Set(input.postLogoutRedirectUris ?? [])];
    postLogoutRedirectUris.forEach((uri) => checkRedirectUri(uri, 'post-logout redirect URI'));
    // The admin API's limits, here too, so the command does the same on the database and through a server.
    if (postLogoutRedirectUris.length > 20 || postLogoutRedirectUris.some((uri) => uri.length > 2000)) {
      throw new AdminError('at most 20 post-logout redirect URIs of at most 2000 characters each');
    }
    const origins = [...new Set(input.origins ?? [])];
    origins.forEach(checkOrigin);
    for (const rule of rules) {
      if (rule.needsRedirectUri && redirectUris.length === 0) throw new AdminError(`${rule.name} needs at least one --redirect-uri`);
    }
    const audience = input.audience ?? null;
    if (audience !== null && (audience.length === 0 || audience.length > 500 || /\s/.test(audience))) {
      throw new AdminError('--audience must be 1 to 500 characters without spaces');
    }
    return {
      name,
      grants,
      scopes,
      redirectUris,
      postLogoutRedirectUris,
      origins,
      consent: input.consent === true,
      tokenFormat,
      accessTtl: ttl(input.accessTtl, DEFAULT_ACCESS_TTL, '--access-ttl'),
      refreshTtl: ttl(input.refreshTtl, DEFAULT_REFRESH_TTL, '--refresh-ttl'),
      maxSession: ttl(input.maxSession, DEFAULT_MAX_SESSION, '--max-session'),
      audience,
      canIntrospect: input.introspect === true,
      browser: input.browser === true,
      admin: input.admin === true,
      ...keys,
    };
  }

  /**
   * Checks a registration exactly as `register` would, and changes nothing: dynamic registration
   * (src/http/register.ts) refuses invalid metadata before it counts a use of its initial access token.
   */
  check(input: ClientRegistration): void {
    this.settle(input);
  }

  /**
   * Registers a client; the secret (confidential clients without keys) is returned here and never
   * again. A client registered with keys gets no secret: it authenticates by assertion only.
   * A client registered dynamically (`registrationTokenDigest`: RFC 7591, by anyone holding an
   * initial access token) is third-party: its users approve its scopes (`consent`). Only an
   * operator may make it first-party later (RFC 7591 metadata never sets `consent`).
   */
  async register(
    input: ClientRegistration,
    registrationTokenDigest: string | null = null,
  ): Promise<{ client: ClientRecord; secret: string | null }> {
    const settings = this.settle(registrationTokenDigest === null ? input : { ...input, consent: true });
    const generated = input.public === true || settings.jwks !== null || settings.jwksUri !== null ? null : this.secrets.generate();
    const client = await this.store.create({
      id: newClientId(),
      ...settings,
      secretDigest: generated?.digest ?? null,
      registrationTokenDigest,
    });
    return { client, secret: generated?.secret ?? null };
  }

  /**
   * A client brought over from another server with its own id, checked as registration checks it.
   * `secret` is its secret in clear, kept (as a keyed digest) so the client goes on as it was;
   * null for a confidential client whose secret cannot be carried over: it must rotate before use.
   */
  imported(id: string, input: ClientRegistration, secret: string | null): NewClient {
    if (!IMPORTED_CLIENT_ID.test(id)) throw new AdminError('client_id must be 1 to 128 of A-Z a-z 0-9 . _ ~ -, not starting with -');
    if (secret !== null && (secret.length === 0 || secret.length > MAX_SECRET_LENGTH))
      throw new AdminError(`client_secret must be 1 to ${MAX_SECRET_LENGTH} characters`);
    const settings = this.settle(input);
    if (settings.jwks !== null || settings.jwksUri !== null) throw new AdminError('an imported client has a secret, not keys');
    const secretDigest = input.public === true ? null : secret === null ? SECRET_TO_ROTATE : this.secrets.digest(secret);
    return { id, ...settings, secretDigest, registrationTokenDigest: null };
  }

  /**
   * Changes settings in place: the change is applied to the current settings and the whole is
   * checked as registration would, so an invalid result is refused entirely. Narrowing the scopes
   * or grants, or shortening the access token lifetime, ends every token the client holds (the revocation stream can name a whole client,
   * not a scope, and the server answers as the services listening to it do). A client that becomes
   * confidential without keys gets a secret, returned here once; one that stops needing a secret
   * loses it.
   */
  async update(id: string, change: ClientChange): Promise<{ client: ClientRecord; secret: string | null }> {
    if (change.jwks != null && change.jwksUri != null) throw new AdminError('give --jwks or --jwks-uri, not both');
    const current = await this.get(id);
    const merged = { ...asRegistration(current), ...withoutUndefined(change) };
    // Keys replace keys: a change naming one kind drops the other.
    if (change.jwks != null) merged.jwksUri = null;
    if (change.jwksUri != null) merged.jwks = null;
    const settings = this.settle(merged);
    const needsSecret = merged.public !== true && settings.jwks === null && settings.jwksUri === null;
    const generated = needsSecret && current.secretDigest === null ? this.secrets.generate() : null;
    const secretChange = generated
      ? { secretDigest: generated.digest }
      : needsSecret
        ? {}
        : { secretDigest: null, previousSecretDigest: null, previousSecretExpiresAt: null };
    // A shorter access token lifetime ends the tokens issued under the longer one too: revocation
    // events and key publication are sized by the lifetime clients have now, so none may outlive it.
    // A new audience would lend old opaque tokens the new one (theirs is the client's); a client
    // that stops proving who it is must not refresh what was issued while it did.
    const narrowed =
      current.scopes.some((scope) => !settings.scopes.includes(scope)) ||
      current.grants.some((grant) => !settings.grants.includes(grant)) ||
      settings.accessTtl < current.accessTtl ||
      settings.audience !== current.audience ||
      (merged.public === true && !isPublicClient(current));
    // Only what changed is written: a concurrent change to other settings is not overwritten with
    // the values this one read.
    const next: Record<string, unknown> = { ...settings, ...secretChange };
    const before = current as unknown as Record<string, unknown>;
    const changed = Object.fromEntries(
      Object.entries(next).filter(([key, value]) => JSON.stringify(value) !== JSON.stringify(before[key])),
    );
    const client = await written(this.store.update(id, changed, { endTokens: narrowed }), `client "${id}"`);
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
    if (secret === undefined || client.secretDigest === null) return null;
    if (this.secrets.matches(secret, client.secretDigest)) return client;
    // The secret before a rotation with a grace period, until the grace ends.
    const { previousSecretDigest, previousSecretExpiresAt } = client;
    const inGrace = previousSecretDigest !== null && previousSecretExpiresAt !== null && previousSecretExpiresAt.getTime() > Date.now();
    return inGrace && this.secrets.matches(secret, previousSecretDigest) ? client : null;
  }

  /** The client, read through the cache (the hot paths); null when there is none. */
  async find(id: string): Promise<ClientRecord | null> {
    return id.length > MAX_CLIENT_ID_LENGTH ? null : this.cached.get(id);
  }

  /** The client, or an AdminError naming it (the admin command). */
  async get(id: string): Promise<ClientRecord> {
    const client = await this.store.byId(id);
    if (!client) throw new NoSuchError(`no client "${id}"`);
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

  /**
   * A new secret, returned once. With `graceSeconds`, the old one keeps working that long, so that
   * its consumers can be redeployed one by one; without, it stops at once. (A secret still in an
   * earlier grace period stops now: only the one just replaced is kept.)
   */
  async rotateSecret(id: string, graceSeconds = 0): Promise<{ secret: string; previousValidUntil: Date | null }> {
    if (!Number.isInteger(graceSeconds) || graceSeconds < 0 || graceSeconds > MAX_SECRET_GRACE)
      throw new AdminError(`--grace must be a whole number of seconds from 0 to ${MAX_SECRET_GRACE} (7 days)`);
    const client = await this.get(id);
    if (client.secretDigest === null)
      throw new AdminError(
        isPublicClient(client) ? 'a public client has no secret' : 'this client has keys, not a secret (private_key_jwt)',
      );
    const { secret, digest } = this.secrets.generate();
    // A secret that never worked has nothing to keep working.
    const previousValidUntil =
      graceSeconds > 0 && client.secretDigest !== SECRET_TO_ROTATE ? new Date(Date.now() + graceSeconds * 1000) : null;
    await written(this.store.setSecretDigest(client.id, digest, previousValidUntil), `client "${id}"`);
    return { secret, previousValidUntil };
  }

  /** Ends every token issued to the client until now; the client goes on. */
  async revokeTokens(id: string): Promise<void> {
    await written(this.store.endTokens((await this.get(id)).id), `client "${id}"`);
  }

  /** A page of clients in registration order. */
  page(limit: number, cursor?: string): Promise<Page<ClientRecord>> {
    return pageOrRefuse(this.store.page(limit, cursor));
  }

  async delete(id: string): Promise<void> {
    await written(this.store.delete((await this.get(id)).id), `client "${id}"`);
  }
}
