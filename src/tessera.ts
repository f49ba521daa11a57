// The running core of Tessera, without HTTP: storage, keys, caches and the domain services, wired
// together once. The HTTP app and the admin command both stand on it.
import type { Logger } from 'pino';
import type { Config } from './config.js';
import { ClientSecrets } from './domain/client-secrets.js';
import { Clients } from './domain/clients.js';
import { Users } from './domain/users.js';
import { deriveKeys, resolveSecret } from './secret.js';
import { applyMigrations } from './store/migrate.js';
import { Store } from './store/store.js';
import { TokenInspector } from './tokens/inspector.js';
import { TokenIssuer } from './tokens/issuer.js';
import { KeyRing } from './tokens/keys.js';
import { LiveState, type CacheSizes } from './tokens/live-state.js';
import { Revocation } from './tokens/revocation.js';

export interface OpenOptions {
  /** Follow other instances' changes and prune in the background (a server does; the CLI not). */
  background?: boolean;
  /** Create or upgrade the schema first (the server does; other admin commands expect it done). */
  migrate?: boolean;
  cacheSizes?: CacheSizes;
}

export class Tessera {
  readonly users: Users;
  readonly clients: Clients;
  readonly issuer: TokenIssuer;
  readonly inspector: TokenInspector;
  readonly revocation: Revocation;
  private pruneTimer: NodeJS.Timeout | undefined;
  private closed = false;

  private constructor(
    readonly config: Config,
    readonly log: Logger,
    readonly store: Store,
    readonly keys: KeyRing,
    readonly state: LiveState,
    secrets: ClientSecrets,
  ) {
    this.users = new Users(store);
    this.clients = new Clients(store, state, secrets);
    this.issuer = new TokenIssuer(keys, config.issuer);
    this.inspector = new TokenInspector(store, state, keys, config.issuer);
    this.revocation = new Revocation(store, keys, config.issuer);
  }

  static async open(config: Config, log: Logger, options: OpenOptions = {}): Promise<Tessera> {
    const secretKeys = deriveKeys(resolveSecret(config, (message) => log.warn(message)));
    if (options.migrate) {
      const applied = await applyMigrations(config.databaseUrl);
      if (applied.length > 0) log.info({ migrations: applied }, 'database schema upgraded');
    }
    const onError = (error: unknown) => log.error({ err: error }, 'background task failed');
    const store = await Store.open(config, onError);
    try {
      const keys = new KeyRing(store.keys, secretKeys.keyEncryptionKey);
      await keys.load();
      const state = new LiveState(store, keys, onError, options.cacheSizes);
      await state.loadRevokedJwts();
      const tessera = new Tessera(config, log, store, keys, state, new ClientSecrets(secretKeys.clientSecretKey));
      if (options.background) await tessera.startBackground();
      return tessera;
    } catch (error) {
      await store.close();
      throw error;
    }
  }

  private async startBackground(): Promise<void> {
    await this.store.feed.subscribe({
      onChange: (change) => this.state.apply(change),
      onReset: () => {
        this.state.reset().catch((error) => this.log.error({ err: error }, 'cache reset failed'));
      },
    });
    const every = this.config.pruneIntervalMs;
    if (every > 0) {
      const tick = async () => {
        try {
          // A bounded amount per tick keeps each pass short; a backlog drains over several ticks.
          const counts = await this.store.prune(new Date(), 5_000);
          this.state.forgetExpired();
          if (Object.values(counts).some((n) => n > 0)) this.log.debug({ pruned: counts }, 'pruned expired rows');
        } catch (error) {
          this.log.error({ err: error }, 'pruning failed');
        }
        if (!this.closed) this.pruneTimer = setTimeout(tick, every).unref();
      };
      this.pruneTimer = setTimeout(tick, every).unref();
    }
  }

  async rotateKeys(): Promise<string> {
    return this.keys.rotate(await this.store.clients.longestAccessTtl());
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.pruneTimer);
    await this.store.close();
  }
}
