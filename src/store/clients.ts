// Registered OAuth clients.
import type { JSONWebKeySet } from 'jose';
import type { ClientRecord } from '../records.js';
import type { Db } from './dialect.js';
import { translated } from './errors.js';
import type { ChangeFeed } from './change-feed.js';
import { accessTokensEndBy } from './revocations.js';

type ClientRow = Awaited<ReturnType<Db['client']['findUniqueOrThrow']>>;

const list = (value: string) => value.split(' ').filter((s) => s !== '');

function fromRow(row: ClientRow): ClientRecord {
  return {
    ...row,
    grants: list(row.grants),
    scopes: list(row.scopes),
    redirectUris: list(row.redirectUris),
    origins: list(row.origins),
    tokenFormat: row.tokenFormat === 'jwt' ? 'jwt' : 'opaque',
    // Validated when registered (src/domain/client-keys.ts), stored as the JSON text of the set.
    jwks: row.jwks === null ? null : (JSON.parse(row.jwks) as JSONWebKeySet),
  };
}

export class ClientStore {
  constructor(
    private readonly db: Db,
    private readonly feed: ChangeFeed,
  ) {}

  /** Announced like every client change: each instance's discovery document includes the new client. */
  async create(client: Omit<ClientRecord, 'createdAt'>): Promise<ClientRecord> {
    const record = { ...client, createdAt: new Date() };
    const data = {
      ...record,
      grants: client.grants.join(' '),
      scopes: client.scopes.join(' '),
      redirectUris: client.redirectUris.join(' '),
      origins: client.origins.join(' '),
      jwks: client.jwks === null ? null : JSON.stringify(client.jwks),
    };
    await translated(this.feed.commit([this.db.client.create({ data })], [{ kind: 'client', subject: client.id }]));
    return record;
  }

  async byId(id: string): Promise<ClientRecord | null> {
    const row = await this.db.client.findUnique({ where: { id } });
    return row && fromRow(row);
  }

  async list(): Promise<ClientRecord[]> {
    return (await this.db.client.findMany({ orderBy: { createdAt: 'asc' } })).map(fromRow);
  }

  async setSecretDigest(id: string, secretDigest: string): Promise<void> {
    await translated(
      this.feed.commit([this.db.client.update({ where: { id }, data: { secretDigest } })], [{ kind: 'client', subject: id }]),
    );
  }

  /** Deletes the client and, by cascade, every token and code issued to it. */
  async delete(id: string): Promise<void> {
    const at = new Date();
    const exp = await accessTokensEndBy(this.db, at, { id });
    await translated(
      this.feed.commit([this.db.client.delete({ where: { id } })], [{ kind: 'client', subject: id }], [{ clientId: id, at: exp, exp }]),
    );
  }

  /** The longest access token lifetime any client has: how long a retired key must stay published. */
  async longestAccessTtl(): Promise<number> {
    const result = await this.db.client.aggregate({ _max: { accessTtl: true } });
    return result._max.accessTtl ?? 0;
  }
}
