// The hot-path statements on PostgreSQL, on the pool Prisma also uses. Each is a single statement
// (so its own transaction, one round trip) whose text never changes: rows travel as arrays and
// are unnested. The simple ones are named, so each connection parses them once. The rotation is
// not: a named statement's plan is fixed after a few runs, and one fixed while the table was
// small is a sequential scan that stays as the table grows (measured: 2 000 rotations/s falling,
// against 5 600 steady when planned on every run).
import type pg from 'pg';
import { refreshRecordFrom, type GrantStart, type HotPath, type Rotation } from './hot-path.js';
import type { NewAccessToken, RefreshTokenRecord } from './tokens.js';

/** A timestamp(3) column holds UTC without a zone, as Prisma writes it. */
const stored = (date: Date) => date.toISOString().slice(0, -1);

/** Access tokens as the seven column arrays that INSERT_ACCESS_FROM(n) unnests; null tokens are skipped. */
function accessColumns(tokens: (NewAccessToken | null)[]) {
  return [
    tokens.map((t) => t?.digest ?? null),
    tokens.map((t) => t?.clientId ?? null),
    tokens.map((t) => t?.userId ?? null),
    tokens.map((t) => t?.grantId ?? null),
    tokens.map((t) => t?.scope ?? null),
    tokens.map((t) => (t ? stored(t.issuedAt) : null)),
    tokens.map((t) => (t ? stored(t.expiresAt) : null)),
  ];
}
const INSERT_ACCESS_FROM = (n: number) => `
  INSERT INTO "AccessToken" ("digest", "clientId", "userId", "grantId", "scope", "issuedAt", "expiresAt")
  SELECT * FROM unnest($${n}::text[], $${n + 1}::text[], $${n + 2}::text[], $${n + 3}::text[], $${n + 4}::text[],
                       $${n + 5}::timestamp(3)[], $${n + 6}::timestamp(3)[]) AS a(digest, client_id, user_id, grant_id, scope, issued_at, expires_at)
   WHERE digest IS NOT NULL`;

const INSERT_ACCESS = INSERT_ACCESS_FROM(1);

// Foreign keys are checked at the end of the statement, when the grant rows exist.
const START_GRANTS = `
  WITH grants AS (
    INSERT INTO "Grant" ("id", "clientId", "userId", "scope", "createdAt", "expiresAt")
    SELECT id, client_id, user_id, scope, $16::timestamp(3), expires_at
      FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamp(3)[]) AS g(id, client_id, user_id, scope, expires_at)
  ), refresh AS (
    INSERT INTO "RefreshToken" ("digest", "grantId", "parentDigest", "scope", "createdAt", "expiresAt")
    SELECT digest, grant_id, NULL, scope, $16::timestamp(3), expires_at
      FROM unnest($6::text[], $1::text[], $7::text[], $8::timestamp(3)[]) AS r(digest, grant_id, scope, expires_at)
  ), access AS (${INSERT_ACCESS_FROM(9)})
  SELECT 1`;

// The consuming UPDATE decides the race: a concurrent transaction that consumed the same token
// first makes PostgreSQL re-check the WHERE clause after it commits, and the row drops out, so
// the rotation that lost writes nothing.
const ROTATE = `
  WITH input AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamp(3)[], $6::timestamp(3)[], $7::timestamp(3)[],
                         $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::timestamp(3)[], $14::timestamp(3)[])
      AS t(used, grant_id, next, next_scope, next_expires, grant_expires, grant_extended,
           access, access_client, access_user, access_grant, access_scope, access_issued, access_expires)
  ), won AS (
    UPDATE "RefreshToken" r SET "consumedAt" = $15::timestamp(3)
      FROM input i
     WHERE r."digest" = i.used AND r."consumedAt" IS NULL AND r."revokedAt" IS NULL
    RETURNING i.*
  ), successors AS (
    INSERT INTO "RefreshToken" ("digest", "grantId", "parentDigest", "scope", "createdAt", "expiresAt")
    SELECT next, grant_id, used, next_scope, $15::timestamp(3), next_expires FROM won
  ), access_tokens AS (
    INSERT INTO "AccessToken" ("digest", "clientId", "userId", "grantId", "scope", "issuedAt", "expiresAt")
    SELECT access, access_client, access_user, access_grant, access_scope, access_issued, access_expires FROM won WHERE access IS NOT NULL
  ), extended AS (
    UPDATE "Grant" g SET "expiresAt" = w.grant_extended FROM won w WHERE g."id" = w.grant_id AND g."expiresAt" < w.grant_expires
  )
  SELECT used FROM won`;

// Dates read as timestamptz (AT TIME ZONE 'UTC'), so that pg parses them the same whatever the
// process's own time zone.
const FIND_REFRESH = `
  SELECT r."digest", r."grantId", r."parentDigest", r."scope",
         r."createdAt" AT TIME ZONE 'UTC', r."expiresAt" AT TIME ZONE 'UTC',
         r."consumedAt" AT TIME ZONE 'UTC', r."revokedAt" AT TIME ZONE 'UTC',
         g."clientId", g."userId", g."scope",
         g."createdAt" AT TIME ZONE 'UTC', g."expiresAt" AT TIME ZONE 'UTC', g."revokedAt" AT TIME ZONE 'UTC'
    FROM "RefreshToken" r JOIN "Grant" g ON g."id" = r."grantId" WHERE r."digest" = $1`;

export class PostgresHotPath implements HotPath {
  constructor(private readonly pool: pg.Pool) {}

  async insertAccessTokens(tokens: NewAccessToken[]): Promise<void> {
    await this.pool.query({ name: 'tessera_insert_access', text: INSERT_ACCESS, values: accessColumns(tokens) });
  }

  async startGrants(starts: GrantStart[], now: Date): Promise<void> {
    await this.pool.query({
      name: 'tessera_start_grants',
      text: START_GRANTS,
      values: [
        starts.map((s) => s.grant.id),
        starts.map((s) => s.grant.clientId),
        starts.map((s) => s.grant.userId),
        starts.map((s) => s.grant.scope),
        starts.map((s) => stored(s.grant.expiresAt)),
        starts.map((s) => s.refresh.digest),
        starts.map((s) => s.refresh.scope),
        starts.map((s) => stored(s.refresh.expiresAt)),
        ...accessColumns(starts.map((s) => s.access)),
        stored(now),
      ],
    });
  }

  async rotate(rotations: Rotation[], now: Date): Promise<boolean[]> {
    const result = await this.pool.query<{ used: string }>({
      text: ROTATE,
      values: [
        rotations.map((r) => r.usedDigest),
        rotations.map((r) => r.grantId),
        rotations.map((r) => r.next.digest),
        rotations.map((r) => r.next.scope),
        rotations.map((r) => stored(r.next.expiresAt)),
        rotations.map((r) => stored(r.grantExpiresAt)),
        rotations.map((r) => stored(r.grantExtendedTo)),
        ...accessColumns(rotations.map((r) => r.access)),
        stored(now),
      ],
    });
    const won = new Set(result.rows.map((row) => row.used));
    return rotations.map((r) => won.has(r.usedDigest));
  }

  async refreshToken(digest: string): Promise<RefreshTokenRecord | null> {
    const result = await this.pool.query<unknown[]>({
      name: 'tessera_find_refresh',
      text: FIND_REFRESH,
      values: [digest],
      rowMode: 'array',
    });
    const row = result.rows[0];
    return row ? refreshRecordFrom(row, (value) => value as Date) : null;
  }
}
