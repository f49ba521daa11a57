// Registered OAuth clients.
import type { JSONWebKeySet } from 'jose';
import type { Prisma } from '../generated/sqlite/client.ts';
import type { ClientRecord, Page } from '../records.js';
import type { Db } from './dialect.js';
import { NotFoundError, retryingConflicts, translated } from './errors.js';
import type { ChangeFeed } from './change-feed.js';
import { afterCreationCursor, CREATION_ORDER, creationCursor, pageOf } from './paging.js';
import { accessTokensEndBy, IN_FLIGHT_MS } from './revocations.js';
import { revokeTokensWhere } from './tokens.js';

type ClientRow = Awaited<ReturnType<Db['client']['findUniqueOrThrow']>>;

const list = (value: string) => value.split(' ').filter((s) => s !== '');

function fromRow(row: ClientRow): ClientRecord {
  return {
    ...row,
    grants: list(row.grants),
    scopes: list(row.scopes),
    redirectUris: list(row.redirectUris),
    origins: list(row.origins),
    postLogoutRedirectUris: list(row.postLogoutRedirectUris),
    tokenFormat: row.tokenFormat === 'jwt' ? 'jwt' : 'opaque',
    // Validated when registered (src/domain/client-keys.ts), stored as the JSON text of the set.
    jwks: row.jwks === null ? null : (JSON.parse(row.jwks) as JSONWebKeySet),
  };
}

/** What registration decides; the rest of a record is the store's (timestamps) or set later. */
export type NewClient = Omit<
  ClientRecord,
  'createdAt' | 'updatedAt' | 'previousSecretDigest' | 'previousSecretExpiresAt' | 'tokensValidAfter'
>;

/** A new client as a record, and as the row that stores it. */
export function newClientRow(client: NewClient, now: Date): { record: ClientRecord; row: Prisma.ClientUncheckedCreateInput } {
  const record: ClientRecord = {
    ...client,
    previousSecretDigest: null,
    previousSecretExpiresAt: null,
    tokensValidAfter: null,
    createdAt: now,
    updatedAt: now,
  };
  const { grants, scopes, redirectUris, origins, postLogoutRedirectUris, jwks, ...plain } = record;
  return {
    record,
    row: {
      ...plain,
      ...toRow({ grants, scopes, redirectUris, origins, postLogoutRedirectUris, jwks }),
    } as Prisma.ClientUncheckedCreateInput,
  };
}

/** The settings an update may change (neither the id nor the secret). */
export type ClientSettings = Omit<NewClient, 'id' | 'secretDigest' | 'registrationTokenDigest'>;

function toRow(settings: Partial<ClientSettings>) {
  const { grants, scopes, redirectUris, origins, postLogoutRedirectUris, jwks, ...rest } = settings;
  return {
    ...rest,
    ...(grants === undefined ? {} : { grants: grants.join(' ') }),
    ...(scopes === undefined ? {} : { scopes: scopes.join(' ') }),
    ...(redirectUris === undefined ? {} : { redirectUris: redirectUris.join(' ') }),
    ...(origins === undefined ? {} : { origins: origins.join(' ') }),
    ...(postLogoutRedirectUris === undefined ? {} : { postLogoutRedirectUris: postLogoutRedirectUris.join(' ') }),
    ...(jwks === undefined ? {} : { jwks: jwks === null ? null : JSON.stringify(jwks) }),
  };
}

export class ClientStore {
  constructor(
    private readonly db: Db,
    private readonly feed: ChangeFeed,
  ) {}

  /** Announced like every client change: each instance's discovery document includes the new client. */
  async create(client: NewClient): Promise<ClientRecord> {
    const { record, row } = newClientRow(client, new Date());
    await translated(this.feed.commit([this.db.client.create({ data: row })], [{ kind: 'client', subject: client.id }]));
    return record;
  }

  /** A page in creation order, after `cursor` (BadCursorError for one this server did not give). */
  async page(limit: number, cursor?: string): Promise<Page<ClientRecord>> {
    const rows = await this.db.client.findMany({ where: afterCreationCursor(cursor), orderBy: CREATION_ORDER, take: limit + 1 });
    return pageOf(rows, limit, fromRow, creationCursor);
  }

  /**
   * Changes settings in place. With `endTokens`, in the same transaction, every token the client
   * holds until now ends (a narrowing of its scopes or grants): its refresh families, its opaque
   * access tokens, its JWTs (through tokensValidAfter), announced on the revocation stream.
   */
  async update(id: string, settings: Partial<ClientRecord>, options: { endTokens: boolean }): Promise<ClientRecord> {
    const now = new Date();
    const data = { ...toRow(settings), updatedAt: now };
    if (!options.endTokens) {
      await translated(this.feed.commit([this.db.client.update({ where: { id }, data })], [{ kind: 'client', subject: id }]));
    } else {
      await this.endTokensWith(id, now, [this.db.client.update({ where: { id }, data: { ...data, tokensValidAfter: now } })]);
    }
    return this.existing(id);
  }

  /** The client as it is now; NotFoundError when another request deleted it meanwhile. */
  private async existing(id: string): Promise<ClientRecord> {
    const client = await this.byId(id);
    if (!client) throw new NotFoundError('not found');
    return client;
  }

  /** Ends every token issued to the client until now; the client goes on (`token revoke --client`). */
  async endTokens(id: string): Promise<void> {
    const now = new Date();
    await this.endTokensWith(id, now, [this.db.client.update({ where: { id }, data: { tokensValidAfter: now } })]);
  }

  private async endTokensWith(id: string, now: Date, change: Prisma.PrismaPromise<unknown>[]): Promise<void> {
    // Like a user's: the event covers a token minted meanwhile by a refresh already in flight.
    const at = new Date(now.getTime() + IN_FLIGHT_MS);
    const revoked = [{ clientId: id, at, exp: await accessTokensEndBy(this.db, at, { id }) }];
    await retryingConflicts(() =>
      translated(
        this.feed.commit(
          [
            ...change,
            ...revokeTokensWhere(this.db, now, { grant: { clientId: id }, access: { clientId: id } }),
            this.db.authorizationCode.deleteMany({ where: { clientId: id, consumedAt: null } }),
          ],
          [{ kind: 'client', subject: id }],
          revoked,
        ),
      ),
    );
  }

  async byId(id: string): Promise<ClientRecord | null> {
    const row = await this.db.client.findUnique({ where: { id } });
    return row && fromRow(row);
  }

  async list(): Promise<ClientRecord[]> {
    return (await this.db.client.findMany({ orderBy: { createdAt: 'asc' } })).map(fromRow);
  }

  /** A new secret; the previous one stays valid until `previousExpiresAt` (null: it stops now). */
  async setSecretDigest(id: string, secretDigest: string, previousExpiresAt: Date | null = null): Promise<void> {
    const previous = previousExpiresAt
      ? { previousSecretDigest: (await this.byId(id))?.secretDigest ?? null, previousSecretExpiresAt: previousExpiresAt }
      : { previousSecretDigest: null, previousSecretExpiresAt: null };
    await translated(
      this.feed.commit(
        [this.db.client.update({ where: { id }, data: { secretDigest, ...previous, updatedAt: new Date() } })],
        [{ kind: 'client', subject: id }],
      ),
    );
  }

  async setRegistrationTokenDigest(id: string, registrationTokenDigest: string): Promise<void> {
    await translated(
      this.feed.commit([this.db.client.update({ where: { id }, data: { registrationTokenDigest } })], [{ kind: 'client', subject: id }]),
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
