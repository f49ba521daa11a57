// Everything Tessera keeps, behind one object: the only door to the database.
import type { Config } from '../config.js';
import { ChangeFeed } from './change-feed.js';
import { ClientStore } from './clients.js';
import { CodeStore } from './codes.js';
import { openDatabase, type Database } from './database.js';
import { KeyStore } from './keys.js';
import { pruneExpired, type PruneCounts } from './prune.js';
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
  readonly feed: ChangeFeed;

  private constructor(
    private readonly database: Database,
    config: Pick<Config, 'databaseUrl' | 'changePollMs'>,
    onError: (e: unknown) => void,
  ) {
    const { db, dialect } = database;
    this.feed = new ChangeFeed(db, dialect, config.databaseUrl, config.changePollMs, onError);
    this.users = new UserStore(db, this.feed);
    this.clients = new ClientStore(db, this.feed);
    this.tokens = new TokenStore(db, this.feed, database.hotPath);
    this.keys = new KeyStore(db, this.feed);
    this.codes = new CodeStore(db);
    this.throttle = new ThrottleStore(db);
  }

  static async open(config: Pick<Config, 'databaseUrl' | 'changePollMs'>, onError: (e: unknown) => void): Promise<Store> {
    return new Store(await openDatabase(config.databaseUrl, onError), config, onError);
  }

  /** Readiness: can the database answer? */
  async ping(): Promise<void> {
    await this.database.db.$queryRawUnsafe('SELECT 1');
  }

  prune(now: Date, max?: number): Promise<PruneCounts> {
    return pruneExpired(this.database.db, now, max);
  }

  async close(): Promise<void> {
    await this.feed.stop();
    await this.database.close();
  }
}
