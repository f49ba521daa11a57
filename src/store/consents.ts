// Users' approvals of third-party clients (consent): one row per user and client holding the
// scopes approved so far, space-separated. Withdrawing one ends the user's grants with the client.
import type { Prisma } from '../generated/sqlite/client.ts';
import type { ConsentRecord, Page } from '../records.js';
import type { ChangeFeed } from './change-feed.js';
import type { Db } from './dialect.js';
import { AlreadyExistsError, retryingConflicts, translated } from './errors.js';
import { BadCursorError, pageOf } from './paging.js';
import { accessTokensEndBy } from './revocations.js';
import { revokeTokensWhere } from './tokens.js';

type ConsentRow = Awaited<ReturnType<Db['consent']['findUniqueOrThrow']>>;

/** An approval as the admin lists show it: with the client's name. */
export interface ListedConsent extends ConsentRecord {
  clientName: string;
}

function fromRow({ scopes, ...row }: ConsentRow): ConsentRecord {
  return { ...row, scopes: scopes.split(' ').filter((s) => s !== '') };
}

/** A user's approvals are listed in client_id order: the cursor is the last client_id of a page. */
const clientCursor = (row: { clientId: string }) => Buffer.from(row.clientId).toString('base64url');

function afterClientCursor(cursor: string | undefined): Prisma.ConsentWhereInput {
  if (cursor === undefined) return {};
  const clientId = Buffer.from(cursor, 'base64url').toString('utf8');
  if (clientId === '' || clientId.length > 200 || clientCursor({ clientId }) !== cursor) throw new BadCursorError();
  return { clientId: { gt: clientId } };
}

export class ConsentStore {
  constructor(
    private readonly db: Db,
    private readonly feed: ChangeFeed,
  ) {}

  async find(userId: string, clientId: string): Promise<ConsentRecord | null> {
    const row = await this.db.consent.findUnique({ where: { userId_clientId: { userId, clientId } } });
    return row && fromRow(row);
  }

  /** A first approval; false when the user approved this client meanwhile (the caller reads it again). */
  async create(userId: string, clientId: string, scopes: string[], at: Date): Promise<boolean> {
    try {
      await translated(this.db.consent.create({ data: { userId, clientId, scopes: scopes.join(' '), createdAt: at, updatedAt: at } }));
      return true;
    } catch (error) {
      if (error instanceof AlreadyExistsError) return false;
      throw error;
    }
  }

  /**
   * Replaces the approved scopes if they are still `from`: false when another approval (or a
   * withdrawal) changed them meanwhile, so that no concurrent approval's scopes are lost.
   */
  async replaceScopes(userId: string, clientId: string, from: string[], to: string[], at: Date): Promise<boolean> {
    const { count } = await this.db.consent.updateMany({
      where: { userId, clientId, scopes: from.join(' ') },
      data: { scopes: to.join(' '), updatedAt: at },
    });
    return count === 1;
  }

  /** Every approval of the user, in client_id order. */
  async list(userId: string): Promise<ConsentRecord[]> {
    return (await this.db.consent.findMany({ where: { userId }, orderBy: { clientId: 'asc' } })).map(fromRow);
  }

  /** A page of the user's approvals after `cursor` (BadCursorError for one this server did not give). */
  async page(userId: string, limit: number, cursor?: string): Promise<Page<ListedConsent>> {
    const rows = await this.db.consent.findMany({
      where: { userId, ...afterClientCursor(cursor) },
      include: { client: { select: { name: true } } },
      orderBy: { clientId: 'asc' },
      take: limit + 1,
    });
    return pageOf(rows, limit, ({ client, ...row }) => ({ ...fromRow(row), clientName: client.name }), clientCursor);
  }

  /**
   * Withdraws the approval and, in the same transaction, ends the user's grants with the client
   * (their refresh tokens and the access tokens issued from them) and any code not yet exchanged,
   * announced as grant revocations. False when there was no approval; nothing changes then.
   */
  async revoke(userId: string, clientId: string): Promise<boolean> {
    if (!(await this.find(userId, clientId))) return false;
    await this.endGrants(userId, clientId, new Date(), () => [
      this.db.consent.deleteMany({ where: { userId, clientId } }),
      this.db.authorizationCode.deleteMany({ where: { userId, clientId, consumedAt: null } }),
    ]);
    // A code exchanged between reading the grants and the commit started a grant the commit did
    // not name: it began under the approval just withdrawn, so it ends too. An exchange that
    // commits later checks the approval itself (src/oauth/grants/authorization-code.ts).
    await this.endGrants(userId, clientId, new Date());
    return true;
  }

  /** Revokes the user's live grants with the client started by `until`, with the `withdrawal`'s writes, in one transaction. */
  private async endGrants(
    userId: string,
    clientId: string,
    until: Date,
    withdrawal?: () => Prisma.PrismaPromise<unknown>[],
  ): Promise<void> {
    const live = await this.db.grant.findMany({
      where: { userId, clientId, revokedAt: null, createdAt: { lte: until } },
      select: { id: true },
    });
    const ids = live.map((grant) => grant.id);
    if (ids.length === 0 && !withdrawal) return;
    const at = new Date();
    // Like revokeGrant's: a revoked family never issues a good token again, so every token naming it is revoked.
    const exp = await accessTokensEndBy(this.db, at, { id: clientId });
    const revoked = () =>
      ids.length === 0 ? [] : revokeTokensWhere(this.db, at, { grant: { id: { in: ids } }, access: { grantId: { in: ids } } });
    // Retried, on fresh statements, on a deadlock with a concurrent rotation (see revokeTokensWhere), like revokeGrant.
    await retryingConflicts(() =>
      this.feed.commit(
        [...(withdrawal?.() ?? []), ...revoked()],
        ids.map((id) => ({ kind: 'grant' as const, subject: id })),
        ids.map((sid) => ({ sid, at: exp, exp })),
      ),
    );
  }
}
