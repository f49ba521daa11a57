// Bulk creation for an import (src/domain/django-import.ts): what already exists and what was
// imported before, read first; then every new row, with the record of where it came from, in one
// transaction, so that an import lands whole or not at all.
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
}

/** Where an imported row came from (its `source`), the row it became, and for a user a SHA-256 of the Django username. */
export interface ImportedRecord {
  source: string;
  targetId: string;
  label: string | null;
}

export interface ImportRows {
  users: ImportedUser[];
  clients: NewClient[];
  tokens: NewAccessToken[];
  imported: ImportedRecord[];
}

/** What the database already holds of what an import names. */
export interface ExistingRecords {
  /** Every user: an import must not take a username that differs only in case from one. */
  users: { id: string; username: string }[];
  /** What earlier imports brought over, by source; the row may have been deleted since. */
  imported: Map<string, ImportedRecord>;
  /** Of the client ids the dump names, those taken (imported or not). */
  clientIds: Set<string>;
}

/** Rows per statement: well inside both databases' limits on bound parameters. */
const CHUNK = 500;
/**
 * How long the import's one transaction may take: a hundred thousand users take about a minute.
 * PostgreSQL's other writers go on meanwhile; SQLite's wait, and give up after its busy timeout.
 */
const IMPORT_TIMEOUT_MS = 15 * 60_000;

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

  async existing(sources: readonly string[], clientIds: readonly string[]): Promise<ExistingRecords> {
    const users = await this.db.user.findMany({ select: { id: true, username: true } });
    const imported = new Map<string, ImportedRecord>();
    for (const part of chunks(sources))
      for (const row of await this.db.importedRecord.findMany({ where: { source: { in: part } } })) imported.set(row.source, row);
    const taken = new Set<string>();
    for (const ids of chunks(clientIds))
      for (const row of await this.db.client.findMany({ where: { id: { in: ids } }, select: { id: true } })) taken.add(row.id);
    return { users, imported, clientIds: taken };
  }

  /**
   * Creates every row in one transaction. A new client is announced, so that every instance
   * reloads what it derives from the clients (discovery's grant types); and since a cache may
   * remember a new key as missing (a DRF key presented before its import), a 'created' change
   * makes every cache forget those.
   */
  async create(rows: ImportRows, now: Date): Promise<void> {
    const steps = [
      ...chunks(rows.users).map((data) => (tx: Db) => tx.user.createMany({ data })),
      ...chunks(rows.clients).map((clients) => (tx: Db) => tx.client.createMany({ data: clients.map((c) => newClientRow(c, now).row) })),
      ...chunks(rows.tokens).map((data) => (tx: Db) => tx.accessToken.createMany({ data })),
      ...chunks(rows.imported).map(
        (records) => (tx: Db) => tx.importedRecord.createMany({ data: records.map((r) => ({ ...r, at: now })) }),
      ),
    ];
    if (steps.length === 0) return;
    const changes = [
      { kind: 'created' as const, subject: '' },
      ...rows.clients.map((client) => ({ kind: 'client' as const, subject: client.id })),
    ];
    await translated(this.feed.commitInSteps(steps, changes, IMPORT_TIMEOUT_MS));
  }
}
