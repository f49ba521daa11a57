// Bulk creation for an import (src/domain/django-import.ts): what already exists, read first, then
// every new row in one transaction, so that an import lands whole or not at all.
import type { NewAccessToken } from '../records.js';
import type { ChangeFeed } from './change-feed.js';
import { newClientRow, type NewClient } from './clients.js';
import type { Db } from './dialect.js';
import { translated } from './errors.js';

/** A user as an import creates them: no roles, groups or revocation yet. */
export interface ImportedUser {
  id: string;
  username: string;
  email: string | null;
  name: string | null;
  passwordHash: string;
  active: boolean;
  importedFrom: string;
}

export interface ImportRows {
  users: ImportedUser[];
  clients: NewClient[];
  tokens: NewAccessToken[];
}

/** What the database already holds of what an import names. */
export interface ExistingRecords {
  /** Every user, by username: an import must not take a name that differs only in case. */
  users: { id: string; username: string; importedFrom: string | null }[];
  clientIds: Set<string>;
  tokenDigests: Set<string>;
}

/** Rows per statement: well inside both databases' limits on bound parameters. */
const CHUNK = 500;

function chunks<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += CHUNK) out.push(items.slice(i, i + CHUNK));
  return out;
}

export class ImportStore {
  constructor(
    private readonly db: Db,
    private readonly feed: ChangeFeed,
  ) {}

  async existing(clientIds: readonly string[], tokenDigests: readonly string[]): Promise<ExistingRecords> {
    const users = await this.db.user.findMany({ select: { id: true, username: true, importedFrom: true } });
    const clients = new Set<string>();
    for (const ids of chunks(clientIds))
      for (const row of await this.db.client.findMany({ where: { id: { in: ids } }, select: { id: true } })) clients.add(row.id);
    const tokens = new Set<string>();
    for (const digests of chunks(tokenDigests))
      for (const row of await this.db.accessToken.findMany({ where: { digest: { in: digests } }, select: { digest: true } }))
        tokens.add(row.digest);
    return { users, clientIds: clients, tokenDigests: tokens };
  }

  /**
   * Creates every row in one transaction. No cache can hold any of them, but a cache may remember
   * a new key as missing (a DRF key presented before its import): the 'created' change drops those.
   */
  async create(rows: ImportRows, now: Date): Promise<void> {
    const writes = [
      ...chunks(rows.users).map((data) => this.db.user.createMany({ data })),
      ...chunks(rows.clients).map((clients) => this.db.client.createMany({ data: clients.map((c) => newClientRow(c, now).row) })),
      ...chunks(rows.tokens).map((data) => this.db.accessToken.createMany({ data })),
    ];
    if (writes.length === 0) return;
    await translated(this.feed.commit(writes, [{ kind: 'created', subject: '' }]));
  }
}
