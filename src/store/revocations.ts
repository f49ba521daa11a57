// The revocation log behind the revocation stream (GET /revocations): one row per revocation,
// written by the change feed in the same transaction as the revocation itself, read by the stream
// on every instance. Row ids are the stream's event ids, so a listener resumes on any instance.
import type { Prisma } from '../generated/sqlite/client.ts';
import type { Db } from './dialect.js';

/**
 * What a revocation ends: every access token matching all the set fields, issued at or before `at`.
 * A family, a deleted client or a revoked key never issues a good token again, so their `at` is
 * their `exp`: every token that names them is revoked, even one minted (or forged, with a leaked
 * key) after the revocation was decided. A user goes on signing in, so theirs is a moment.
 */
export interface RevocationFact {
  jti?: string;
  sid?: string;
  sub?: string;
  clientId?: string;
  kid?: string;
  at: Date;
  /** When every token it matches has expired: the row matters until then. */
  exp: Date;
}

export interface RevocationEntry extends RevocationFact {
  id: number;
}

/**
 * How long after a user's (or a client's) revocation is decided the stream's event still covers new tokens: one
 * minted meanwhile by a refresh already in flight (its grant is revoked, but its iat may be a
 * second later) must be refused by resource servers too. A new sign-in within it gets a token
 * they refuse (the server itself refuses one from the same second: iat has whole seconds).
 */
export const IN_FLIGHT_MS = 1000;

export class RevocationLog {
  constructor(private readonly db: Db) {}

  /** Entries after `afterId`, oldest first; with `liveAt`, only those still in force then. */
  async after(afterId: number, take: number, liveAt?: Date): Promise<RevocationEntry[]> {
    const rows = await this.db.revocation.findMany({
      where: { id: { gt: afterId }, ...(liveAt ? { exp: { gt: liveAt } } : {}) },
      orderBy: { id: 'asc' },
      take,
    });
    return rows.map(({ jti, sid, sub, clientId, kid, ...rest }) => ({
      ...rest,
      ...(jti === null ? {} : { jti }),
      ...(sid === null ? {} : { sid }),
      ...(sub === null ? {} : { sub }),
      ...(clientId === null ? {} : { clientId }),
      ...(kid === null ? {} : { kid }),
    }));
  }

  /** The ids of the oldest and newest entries kept; null when there are none. */
  async bounds(): Promise<{ oldest: number; newest: number } | null> {
    const { _min, _max } = await this.db.revocation.aggregate({ _min: { id: true }, _max: { id: true } });
    return _min.id === null || _max.id === null ? null : { oldest: _min.id, newest: _max.id };
  }
}

/**
 * When every access token that the matching clients issued until `at` has expired: `at` plus the
 * longest access token lifetime among them (a JWT never outlives its client's lifetime).
 */
export async function accessTokensEndBy(db: Db, at: Date, clients: Prisma.ClientWhereInput = {}): Promise<Date> {
  const { _max } = await db.client.aggregate({ where: clients, _max: { accessTtl: true } });
  return new Date(at.getTime() + (_max.accessTtl ?? 0) * 1000);
}
