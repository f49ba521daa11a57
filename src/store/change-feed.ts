// How instances sharing one database tell each other about changes their caches must honour
// (revocations, deactivations, deletions, key rotations).
//
// Every change is written as a ChangeEvent row in the same transaction as the change itself, so
// no change is ever announced without happening, nor happens unannounced.
// - PostgreSQL: the same transaction also calls pg_notify; PostgreSQL delivers it at commit, and
//   every instance LISTENs, so others hear of it in milliseconds. A lost LISTEN connection means
//   notifications may have been missed: the caches are dropped whole when it is re-established.
// - SQLite: several processes (the server, the CLI) can share the file. Each reads new rows every
//   changePollMs (200 ms by default). With a single writer, row ids commit in order, so reading
//   "id > last seen" misses nothing.
// Either way an instance honours another's change within one second, and its own at once.
import pg from 'pg';
import type { Dialect } from '../config.js';
import type { Db } from './database.js';
import type { Prisma } from '../generated/sqlite/client.ts';
import { pgPoolConfig } from './connection.js';

export type ChangeKind = 'user' | 'client' | 'grant' | 'access' | 'jwt' | 'keys';

export interface Change {
  kind: ChangeKind;
  subject: string;
}

const CHANNEL = 'tessera_changes';
const KINDS = new Set<string>(['user', 'client', 'grant', 'access', 'jwt', 'keys']);

export interface ChangeListener {
  onChange(change: Change): void;
  /** Changes may have been missed: forget everything cached. */
  onReset(): void;
}

function decode(kind: string, subject: string): Change | null {
  return KINDS.has(kind) ? { kind: kind as ChangeKind, subject } : null;
}

export class ChangeFeed {
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private pgClient: pg.Client | undefined;
  private listener: ChangeListener | undefined;

  constructor(
    private readonly db: Db,
    private readonly dialect: Dialect,
    private readonly databaseUrl: string,
    private readonly pollMs: number,
    private readonly onError: (error: unknown) => void,
  ) {}

  /**
   * Runs a change's writes and records the change in one transaction, then applies it to this
   * instance's caches at once.
   */
  async commit(writes: Prisma.PrismaPromise<unknown>[], changes: Change[]): Promise<void> {
    await this.db.$transaction([...writes, ...this.record(changes)]);
    for (const change of changes) this.listener?.onChange(change);
  }

  private record(changes: Change[]) {
    const rows = this.db.changeEvent.createMany({ data: changes.map((c) => ({ kind: c.kind, subject: c.subject })) });
    if (this.dialect === 'sqlite') return [rows];
    return [rows, ...changes.map((c) => this.db.$executeRaw`SELECT pg_notify(${CHANNEL}, ${`${c.kind}:${c.subject}`})`)];
  }

  async subscribe(listener: ChangeListener): Promise<void> {
    this.listener = listener;
    if (this.dialect === 'sqlite') await this.poll(listener);
    else await this.listen(listener);
  }

  private async poll(listener: ChangeListener): Promise<void> {
    const newest = await this.db.changeEvent.findFirst({ orderBy: { id: 'desc' }, select: { id: true } });
    let lastId = newest?.id ?? 0;
    let failing = false;
    const tick = async () => {
      try {
        const rows = await this.db.changeEvent.findMany({ where: { id: { gt: lastId } }, orderBy: { id: 'asc' }, take: 1000 });
        if (failing) listener.onReset();
        failing = false;
        for (const row of rows) {
          lastId = row.id;
          const change = decode(row.kind, row.subject);
          if (change) listener.onChange(change);
        }
      } catch (error) {
        if (!failing) this.onError(error);
        failing = true;
      }
      if (!this.stopped) this.timer = setTimeout(tick, this.pollMs).unref();
    };
    this.timer = setTimeout(tick, this.pollMs).unref();
  }

  private async listen(listener: ChangeListener, attempt = 0): Promise<void> {
    const client = new pg.Client(pgPoolConfig(this.databaseUrl));
    const reconnect = (error?: unknown) => {
      if (this.stopped || this.pgClient !== client) return;
      if (error) this.onError(error);
      this.pgClient = undefined;
      client.end().catch(() => {});
      const delay = Math.min(5000, 100 * 2 ** attempt);
      this.timer = setTimeout(() => {
        this.listen(listener, attempt + 1).catch((e) => this.onError(e));
      }, delay).unref();
    };
    this.pgClient = client;
    client.on('error', reconnect);
    client.on('end', () => reconnect());
    client.on('notification', (message) => {
      const payload = message.payload ?? '';
      const at = payload.indexOf(':');
      const change = decode(payload.slice(0, at), payload.slice(at + 1));
      if (change) listener.onChange(change);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}`);
    } catch (error) {
      if (attempt === 0) throw error;
      reconnect(error);
      return;
    }
    if (attempt > 0) listener.onReset();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    const client = this.pgClient;
    this.pgClient = undefined;
    await client?.end().catch(() => {});
  }
}
