// Everything Tessera keeps, behind one object: the only door to the database. Consumers are
// handed the sub-store they use (users, clients, tokens, …), not this object.
import type { Config } from '../config.js';
import { AssertionStore } from './assertions.js';
import { AuditStore } from './audit.js';
import { ChangeFeed } from './change-feed.js';
import { ClientStore } from './clients.js';
import { CodeStore } from './codes.js';
import { ConsentStore } from './consents.js';
import type { Database } from './dialect.js';
import { dialectFor } from './dialects/index.js';
import { databaseOutage, type Outage } from './errors.js';
import { ImportStore } from './imports.js';
import { InitialAccessTokenStore } from './initial-access-tokens.js';
import { KeyStore } from './keys.js';
import { pruneExpired, type PruneCounts } from './prune.js';
import { RevocationLog } from './revocations.js';
import { SessionStore } from './sessions.js';
import { ThrottleStore } from './throttle.js';
import { TokenStore } from './tokens.js';
import { UserStore } from './users.js';

export class Store {
  readonly users: UserStore;
  readonly clients: ClientStore;
  readonly tokens: TokenStore;
  readonly keys: KeyStore;
  readonly codes: CodeStore;
  readonly throttle: ThrottleStore;
  readonly assertions: AssertionStore;
  readonly revocations: RevocationLog;
  readonly audit: AuditStore;
  readonly initialAccessTokens: InitialAccessTokenStore;
  readonly imports: ImportStore;
  readonly consents: ConsentStore;
  readonly sessions: SessionStore;
  readonly feed: ChangeFeed;
  /**
   * Whether an error means the database cannot be reached now (and what it says, for one log
   * line): the composition root answers those 503 rather than 500.
   */
  readonly outage: (error: unknown) => Outage | undefined = databaseOutage;

  private constructor(
    private readonly database: Database,
    feed: ChangeFeed,
    private readonly auditRetentionMs: number,
  ) {
    const { db } = database;
    this.feed = feed;
    this.users = new UserStore(db, feed);
    this.clients = new ClientStore(db, feed);
    this.tokens = new TokenStore(db, feed, database.hotPath);
    this.keys = new KeyStore(db, feed);
    this.codes = new CodeStore(db, database.hotPath);
    this.throttle = new ThrottleStore(db);
    this.assertions = new AssertionStore(database.hotPath);
    this.revocations = new RevocationLog(db);
    this.audit = new AuditStore(db);
    this.initialAccessTokens = new InitialAccessTokenStore(db);
    this.imports = new ImportStore(db, feed);
    this.consents = new ConsentStore(db, feed);
    this.sessions = new SessionStore(db, feed);
  }

  static async open(
    config: Pick<Config, 'databaseUrl' | 'changePollMs' | 'auditRetentionDays'>,
    onError: (e: unknown) => void,
  ): Promise<Store> {
    const dialect = dialectFor(config.databaseUrl);
    const database = await dialect.open(config.databaseUrl, onError);
    const feed = new ChangeFeed(database.db, dialect, { databaseUrl: config.databaseUrl, pollMs: config.changePollMs, onError });
    return new Store(database, feed, config.auditRetentionDays * 86_400_000);
  }

  /** What the operator should hear once at start (see Database.warnings). */
  get warnings(): string[] {
    return this.database.warnings;
  }

  /** Readiness: can the database answer? */
  async ping(): Promise<void> {
    await this.database.db.$queryRawUnsafe('SELECT 1');
  }

  prune(now: Date, max?: number): Promise<PruneCounts> {
    return pruneExpired(this.database.db, now, this.auditRetentionMs, max);
  }

  async close(): Promise<void> {
    await this.feed.stop();
    await this.database.close();
  }
}
