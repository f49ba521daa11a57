// The admin API's shapes (snake_case JSON, as on the wire) and the operations behind it. Two
// implementations: LocalAdmin (src/admin/local.ts) carries them out on this process's core, for the
// HTTP admin API and the admin command working on the database; the admin command's remote mode
// (src/cli/remote.ts) sends them to a running server. So a command behaves the same either way.

export interface PageQuery {
  limit?: number;
  cursor?: string;
}

export interface PageView<T> {
  items: T[];
  next_cursor: string | null;
}

/** A JWK Set as JSON (RFC 7517 §5). */
export interface JwkSetJson {
  keys: Record<string, unknown>[];
}

/** Every setting of a client, as the admin API and RFC 7591 name them. */
export interface ClientSettingsBody {
  name?: string;
  public?: boolean;
  grants?: string[];
  scopes?: string[];
  token_format?: 'opaque' | 'jwt';
  access_ttl?: number;
  refresh_ttl?: number;
  max_session?: number;
  audience?: string | null;
  redirect_uris?: string[];
  /** OpenID Connect RP-Initiated Logout: where /logout may send the browser back. */
  post_logout_redirect_uris?: string[];
  origins?: string[];
  introspect?: boolean;
  /** Third-party: the user approves its scopes on a consent page, once. */
  consent?: boolean;
  browser?: boolean;
  admin?: boolean;
  jwks?: JwkSetJson | null;
  jwks_uri?: string | null;
}

export interface ClientCreateBody extends ClientSettingsBody {
  name: string;
}

export interface ClientView {
  client_id: string;
  name: string;
  type: 'public' | 'confidential';
  token_endpoint_auth_method: 'client_secret_basic' | 'private_key_jwt' | 'none';
  grants: string[];
  scopes: string[];
  token_format: 'opaque' | 'jwt';
  access_ttl: number;
  refresh_ttl: number;
  max_session: number;
  audience: string | null;
  redirect_uris: string[];
  post_logout_redirect_uris: string[];
  origins: string[];
  introspect: boolean;
  consent: boolean;
  browser: boolean;
  admin: boolean;
  jwks: JwkSetJson | null;
  jwks_uri: string | null;
  /** Imported with a secret that could not be carried over: it authenticates only after a rotation. */
  secret_must_rotate: boolean;
  /** Until when the secret replaced by the last rotation still works; null when it does not. */
  previous_secret_expires_at: string | null;
  /** Tokens issued at or before this instant were ended (a narrowing, or `token revoke --client`). */
  tokens_valid_after: string | null;
  created_at: string;
  updated_at: string;
}

/** A client as created or changed: the secret appears here once, when one was generated. */
export type ClientWithSecret = ClientView & { client_secret?: string };

export interface SecretRotation {
  client_id: string;
  client_secret: string;
  previous_secret_expires_at: string | null;
}

export interface UserProfileBody {
  email?: string | null;
  name?: string | null;
  email_verified?: boolean;
  roles?: string[];
  groups?: string[];
}

export interface UserCreateBody extends UserProfileBody {
  username: string;
  password: string;
}

export interface UserPatchBody extends UserProfileBody {
  active?: boolean;
  password?: string;
}

export interface UserView {
  id: string;
  username: string;
  email: string | null;
  name: string | null;
  email_verified: boolean;
  active: boolean;
  roles: string[];
  groups: string[];
  created_at: string;
  updated_at: string;
}

/** A user's approval of a third-party client's scopes. */
export interface ConsentView {
  client_id: string;
  client_name: string;
  scopes: string[];
  created_at: string;
  /** When scopes were last added to the approval. */
  updated_at: string;
}

export type RevokeBody = { token: string } | { user: string } | { client_id: string };

export interface RevokeResult {
  revoked: 'token' | 'user' | 'client';
  /** For `token`: false when no active token of this server matched (nothing changed). */
  found: boolean;
  user?: string;
  client_id?: string;
}

export interface TokenCreateBody {
  user: string;
  client_id: string;
  scopes?: string[];
  ttl?: number;
}

export interface IssuedToken {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  scope: string;
  client_id: string;
  username: string;
}

export interface KeyView {
  kid: string;
  alg: string;
  status: 'signing' | 'retired';
  created_at: string;
  published_until: string | null;
}

export interface RegistrationTokenBody {
  ttl?: number;
  max_uses?: number | null;
}

export interface RegistrationTokenView {
  initial_access_token: string;
  expires_at: string;
  max_uses: number | null;
}

export interface AuditView {
  id: number;
  at: string;
  actor: string;
  action: string;
  target: string;
  details: Record<string, unknown>;
}

export type PruneCounts = Record<string, number>;

/** `tessera import django`: the dump's text, as read from the file (problems name its lines). */
export interface DjangoImportBody {
  dump: string;
  token_client?: string;
  dry_run?: boolean;
}

/** Where in the dump a problem or a warning is: the line the record starts on, its 1-based position. */
export interface DumpProblemView {
  line: number;
  record: number | null;
  model: string | null;
  pk: string | number | null;
  message: string;
}

export interface ImportCountsView {
  created: number;
  unchanged: number;
}

export interface DjangoImportView {
  dry_run: boolean;
  users: ImportCountsView;
  tokens: ImportCountsView;
  clients: ImportCountsView;
  /** Imported with a hashed secret: they authenticate only after `client rotate-secret`. */
  clients_to_rotate: string[];
  warnings: DumpProblemView[];
}

/** The admin operations, each answering what the admin API answers. */
export interface AdminApi {
  clients: {
    list(query: PageQuery): Promise<PageView<ClientView>>;
    create(body: ClientCreateBody): Promise<ClientWithSecret>;
    get(clientId: string): Promise<ClientView>;
    update(clientId: string, body: ClientSettingsBody): Promise<ClientWithSecret>;
    delete(clientId: string): Promise<void>;
    rotateSecret(clientId: string, body: { grace_seconds?: number }): Promise<SecretRotation>;
  };
  users: {
    list(query: PageQuery): Promise<PageView<UserView>>;
    create(body: UserCreateBody): Promise<UserView>;
    /** By id or, failing that, by username. */
    get(user: string): Promise<UserView>;
    update(user: string, body: UserPatchBody): Promise<UserView>;
    delete(user: string): Promise<void>;
    /** The clients the user approved (`consent` clients), in client_id order. */
    consents(user: string, query: PageQuery): Promise<PageView<ConsentView>>;
    /** Withdraws the approval and ends the user's grants with that client; a NoSuchError when there is none. */
    revokeConsent(user: string, clientId: string): Promise<void>;
  };
  tokens: {
    revoke(body: RevokeBody): Promise<RevokeResult>;
    create(body: TokenCreateBody): Promise<IssuedToken>;
    prune(): Promise<PruneCounts>;
  };
  keys: {
    list(): Promise<KeyView[]>;
    rotate(): Promise<KeyView>;
    revoke(kid: string): Promise<{ kid: string; revoked: true }>;
  };
  registrationTokens: {
    create(body: RegistrationTokenBody): Promise<RegistrationTokenView>;
  };
  audit: {
    list(query: PageQuery): Promise<PageView<AuditView>>;
  };
  imports: {
    /** A DumpError (src/domain/django-import.ts) with every problem when the dump cannot be imported. */
    django(body: DjangoImportBody): Promise<DjangoImportView>;
  };
}

/** The longest page, and the one given when the query names none. */
export const MAX_PAGE = 500;
export const DEFAULT_PAGE = 100;
