// The composition root: storage, keys, caches and the services over them, wired together once.
// The HTTP app (src/app.ts) and the admin command (src/cli/) take the services they need from
// here and hand each part only what it uses; nothing below this file imports it.
import type { Logger } from 'pino';
import { ConfigError, type Config } from './config.js';
import { ClientAssertions } from './domain/client-assertions.js';
import { ClientKeys } from './domain/client-keys.js';
import { ClientSecrets } from './domain/client-secrets.js';
import { Clients } from './domain/clients.js';
import { Consents } from './domain/consents.js';
import { DjangoImport } from './domain/django-import.js';
import { Users } from './domain/users.js';
import { AuditLog } from './domain/audit.js';
import { RegistrationTokens } from './domain/registration-tokens.js';
import { Sessions } from './domain/sessions.js';
import type { AdminServices } from './admin/local.js';
import { GRANTS } from './oauth/grants/index.js';
import type { GrantServices } from './oauth/grants/grant.js';
import { deriveKeys, resolveSecret } from './secret.js';
import { databaseOutage } from './store/errors.js';
import { applyMigrations, unappliedMigrations } from './store/migrate.js';
import { ReadCache, type CacheSizes } from './store/read-cache.js';
import { Store } from './store/store.js';
import { IdTokens } from './tokens/id-token.js';
import { TokenInspector } from './tokens/inspector.js';
import { KeyRing } from './tokens/keys.js';
import { TokenLifecycle } from './tokens/lifecycle.js';
import { TokenMinter } from './tokens/minter.js';
import { Revocation } from './tokens/revocation.js';
import { RevocationStream } from './tokens/revocation-stream.js';

export interface OpenOptions {
  /** Follow other instances' changes and prune in the background (a server does; the CLI not). */
  background?: boolean;
  /**
   * The schema: `apply` creates or upgrades it first (`serve`); `check` (the default) changes
   * nothing and refuses one that is out of date (the admin command; `serve` with TESSERA_MIGRATE=false).
   */
  schema?: 'apply' | 'check';
  cacheSizes?: CacheSizes;
}

/**
 * A task nobody awaits has failed. An unreachable database is one warning line (every task fails
 * alike until it is back, by itself); anything else is logged with its stack.
 */
function reportFailure(log: Logger, error: unknown, task: string): void {
  const outage = databaseOutage(error);
  if (outage) log.warn({ code: outage.code }, `${task}: database unavailable: ${outage.message}`);
  else log.error({ err: error }, `${task} failed`);
}

/** A schema `tessera migrate` has not brought up to date (or an empty database) is refused, in one line that says so. */
async function refuseOutdatedSchema(databaseUrl: string): Promise<void> {
  const pending = await unappliedMigrations(databaseUrl);
  if (pending.length === 0) return;
  const count = pending.length === 1 ? '1 migration' : `${pending.length} migrations`;
  throw new ConfigError(`the database schema is not up to date (${count} not applied): run \`tessera migrate\` first`);
}

export class Tessera {
  readonly users: Users;
  readonly clients: Clients;
  readonly tokens: TokenLifecycle;
  readonly inspector: TokenInspector;
  readonly revocation: Revocation;
  readonly revocationStream: RevocationStream;
  /** Who changed what (the admin API, the admin command, dynamic registration). */
  readonly audit: AuditLog;
  /** RFC 7591 initial access tokens and RFC 7592 registration access tokens. */
  readonly registrationTokens: RegistrationTokens;
  /** Users' approvals of third-party clients (consent): asked for at /authorize, listed and withdrawn by the admin. */
  readonly consents: Consents;
  /** What the grant handlers (src/oauth/grants/) may use. */
  readonly grantServices: GrantServices;
  /** Browser sessions: single sign-on at /authorize, ended by /logout. */
  readonly sessions: Sessions;
  /** OpenID Connect ID tokens: minted by the grants, read back as /logout's id_token_hint. */
  readonly idTokens: IdTokens;
  private pruneTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Clients' keys for private_key_jwt, those fetched from a jwks_uri held a while: dropped when the client changes. */
  private readonly clientKeys = new ClientKeys();

  private constructor(
    readonly config: Config,
    readonly log: Logger,
    readonly store: Store,
    readonly keys: KeyRing,
    private readonly cache: ReadCache,
    secrets: ClientSecrets,
    /** Binds browser clients' CSRF values to their refresh families (src/http/browser-session.ts). */
    readonly csrfKey: Buffer,
  ) {
    this.users = new Users(store.users, store.throttle, cache.users);
    this.clients = new Clients(
      store.clients,
      cache.clients,
      secrets,
      GRANTS.map((grant) => ({ name: grant.name, ...grant.rules })),
      new ClientAssertions((id) => this.clients.find(id), this.clientKeys, store.assertions, config.issuer),
    );
    this.tokens = new TokenLifecycle(store.tokens, store.codes, new TokenMinter(keys, config.issuer), log, config.codeTtlSeconds);
    this.inspector = new TokenInspector(cache, store.tokens, keys, config.issuer);
    this.revocation = new Revocation(store.tokens, keys, config.issuer);
    this.revocationStream = new RevocationStream(store.revocations, {
      heartbeatMs: config.streamHeartbeatMs,
      maxListeners: config.streamMaxListeners,
      onError: (error) => reportFailure(log, error, 'revocation stream'),
    });
    this.idTokens = new IdTokens(keys, config.issuer);
    this.audit = new AuditLog(store.audit, log);
    this.registrationTokens = new RegistrationTokens(store.initialAccessTokens);
    this.consents = new Consents(store.consents);
    this.sessions = new Sessions(store.sessions, this.users, {
      idleSeconds: config.sessionIdleSeconds,
      maxSeconds: config.sessionMaxSeconds,
    });
    this.grantServices = {
      tokens: this.tokens,
      users: this.users,
      idTokens: this.idTokens,
      sessions: this.sessions,
      consents: this.consents,
    };
  }

  /** What the admin operations (src/admin/) use. */
  get adminServices(): AdminServices {
    return {
      clients: this.clients,
      users: this.users,
      tokens: this.tokens,
      revocation: this.revocation,
      keys: { list: () => this.keys.list(), rotate: () => this.rotateKeys(), revoke: (kid) => this.revokeKey(kid) },
      audit: this.audit,
      registrationTokens: this.registrationTokens,
      consents: this.consents,
      djangoImport: new DjangoImport({ store: this.store.imports, clients: this.clients }),
      prune: () => this.store.prune(new Date()),
    };
  }

  static async open(config: Config, log: Logger, options: OpenOptions = {}): Promise<Tessera> {
    // Before the secret: a refused start leaves nothing behind, not even a generated secret file.
    if (options.schema !== 'apply') await refuseOutdatedSchema(config.databaseUrl);
    const secretKeys = deriveKeys(resolveSecret(config, (message) => log.warn(message)));
    if (options.schema === 'apply') {
      const applied = await applyMigrations(config.databaseUrl);
      if (applied.length > 0) log.info({ migrations: applied }, 'database schema upgraded');
    }
    const onError = (error: unknown, task = 'background task') => reportFailure(log, error, task);
    const store = await Store.open(config, onError);
    for (const warning of store.warnings) log.warn(warning);
    try {
      const keys = new KeyRing(store.keys, secretKeys.keyEncryptionKey);
      await keys.load();
      const cache = new ReadCache(store, options.cacheSizes);
      await cache.loadRevokedJwts();
      const tessera = new Tessera(config, log, store, keys, cache, new ClientSecrets(secretKeys.clientSecretKey), secretKeys.csrfKey);
      if (options.background) await tessera.startBackground(onError);
      return tessera;
    } catch (error) {
      await store.close();
      throw error;
    }
  }

  private async startBackground(onError: (error: unknown, task: string) => void): Promise<void> {
    // Forgotten before and after the reload: a JWT verified meanwhile against the old keys would
    // otherwise stay remembered as good.
    const keysChanged = () => {
      this.inspector.forgetVerifiedJwts();
      this.keys
        .reload()
        .then(() => this.inspector.forgetVerifiedJwts())
        .catch((error: unknown) => onError(error, 'key reload'));
    };
    const measureFailureFloor = () =>
      void this.users.measureFailureFloor().catch((error: unknown) => onError(error, 'sign-in timing floor'));
    measureFailureFloor();
    await this.store.feed.subscribe({
      onChange: (change) => {
        this.cache.apply(change);
        if (change.kind === 'keys') keysChanged();
        if (change.kind === 'client') {
          this.clients.changed();
          this.clientKeys.forget(change.subject);
        }
        if (change.kind === 'revocation') this.revocationStream.revocationsCommitted();
        if (change.kind === 'created') measureFailureFloor();
        if (change.kind === 'session') this.sessions.forget(change.subject);
      },
      onReset: () => {
        this.revocationStream.revocationsCommitted();
        keysChanged();
        this.clients.changed();
        this.clientKeys.clear();
        this.sessions.forgetAll();
        this.cache.reset().catch((error: unknown) => onError(error, 'cache reset'));
      },
    });
    const every = this.config.pruneIntervalMs;
    if (every > 0) {
      const tick = async () => {
        try {
          // A bounded amount per tick keeps each pass short; a backlog drains over several ticks.
          const counts = await this.store.prune(new Date(), 5_000);
          this.cache.forgetExpired();
          if (Object.values(counts).some((n) => n > 0)) this.log.debug({ pruned: counts }, 'pruned expired rows');
        } catch (error) {
          onError(error, 'pruning');
        }
        if (!this.closed) this.pruneTimer = setTimeout(() => void tick(), every).unref();
      };
      this.pruneTimer = setTimeout(() => void tick(), every).unref();
    }
  }

  async rotateKeys(): Promise<string> {
    return this.keys.rotate(await this.store.clients.longestAccessTtl());
  }

  /** Revokes a signing key at once (a new one signs if it was signing); false if there is none such. */
  async revokeKey(kid: string): Promise<boolean> {
    const revoked = await this.keys.revoke(kid, () => this.rotateKeys());
    this.inspector.forgetVerifiedJwts();
    return revoked;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.pruneTimer);
    this.revocationStream.close();
    await this.store.close();
  }
}
