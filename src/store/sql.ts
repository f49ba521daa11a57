// The tables that the hot path's raw statements touch, declared once. Each declaration is checked
// against Prisma's generated model type — every column, its name and whether it is text or a date,
// nullable or not — so a column renamed or retyped in prisma/models.prisma fails `tsc` here, not a
// test at run time. Both dialects build their statements' column lists from these declarations and
// decode rows by column name.
import type { Prisma } from '../generated/sqlite/client.ts';

export type Kind = 'text' | 'text?' | 'date' | 'date?';

/** The kind a column of this TypeScript type must be declared as; another type (a number) has none yet. */
type KindOf<V> = [V] extends [string]
  ? 'text'
  : [V] extends [string | null]
    ? 'text?'
    : [V] extends [Date]
      ? 'date'
      : [V] extends [Date | null]
        ? 'date?'
        : never;

/**
 * A table declaration that must list exactly the model's columns, each with its kind, and the
 * columns the hot path's INSERT writes (the rest take their defaults).
 */
type TableOf<M> = {
  readonly name: Prisma.ModelName;
  readonly columns: { readonly [K in keyof M]: KindOf<M[K]> };
  readonly insert: readonly (keyof M)[];
};

export interface Table<C extends string = string> {
  readonly name: string;
  readonly columns: Readonly<Record<C, Kind>>;
  readonly insert: readonly C[];
}

export const ACCESS_TOKEN = {
  name: 'AccessToken',
  columns: {
    digest: 'text',
    clientId: 'text',
    userId: 'text?',
    grantId: 'text?',
    scope: 'text',
    issuedAt: 'date',
    expiresAt: 'date',
    revokedAt: 'date?',
  },
  insert: ['digest', 'clientId', 'userId', 'grantId', 'scope', 'issuedAt', 'expiresAt'],
} as const satisfies TableOf<Prisma.AccessTokenModel>;

/** Authorization codes: /authorize with a live session issues one per request, without a page. */
export const AUTHORIZATION_CODE = {
  name: 'AuthorizationCode',
  columns: {
    digest: 'text',
    clientId: 'text',
    userId: 'text',
    redirectUri: 'text',
    scope: 'text',
    codeChallenge: 'text',
    codeChallengeMethod: 'text',
    expiresAt: 'date',
    consumedAt: 'date?',
    grantId: 'text?',
    nonce: 'text?',
    authTime: 'date?',
    sessionId: 'text?',
  },
  insert: [
    'digest',
    'clientId',
    'userId',
    'redirectUri',
    'scope',
    'codeChallenge',
    'codeChallengeMethod',
    'expiresAt',
    'nonce',
    'authTime',
    'sessionId',
  ],
} as const satisfies TableOf<Prisma.AuthorizationCodeModel>;

export const USED_ASSERTION = {
  name: 'UsedAssertion',
  columns: { key: 'text', expiresAt: 'date' },
  insert: ['key', 'expiresAt'],
} as const satisfies TableOf<Prisma.UsedAssertionModel>;

export const REFRESH_TOKEN = {
  name: 'RefreshToken',
  columns: {
    digest: 'text',
    grantId: 'text',
    parentDigest: 'text?',
    scope: 'text',
    createdAt: 'date',
    expiresAt: 'date',
    consumedAt: 'date?',
    revokedAt: 'date?',
  },
  insert: ['digest', 'grantId', 'parentDigest', 'scope', 'createdAt', 'expiresAt'],
} as const satisfies TableOf<Prisma.RefreshTokenModel>;

export const GRANT = {
  name: 'Grant',
  columns: {
    id: 'text',
    clientId: 'text',
    userId: 'text',
    scope: 'text',
    createdAt: 'date',
    expiresAt: 'date',
    revokedAt: 'date?',
    sessionId: 'text?',
    authTime: 'date?',
  },
  insert: ['id', 'clientId', 'userId', 'scope', 'createdAt', 'expiresAt', 'sessionId', 'authTime'],
} as const satisfies TableOf<Prisma.GrantModel>;

type ColumnsOf<T extends Table> = keyof T['columns'] & string;

export const quote = (identifier: string) => `"${identifier}"`;

/** A quoted column name of `table`, checked against its declaration. */
export const column =
  <T extends Table>(_table: T) =>
  (name: ColumnsOf<T>) =>
    quote(name);

/** A row's values for the table's INSERT, in its column order, each date encoded as the dialect stores it. */
export function valuesOf<C extends string>(
  table: Table<C>,
  row: Readonly<Record<C, string | Date | null>>,
  encodeDate: (date: Date) => unknown,
): unknown[] {
  return table.insert.map((name) => {
    const value = row[name];
    return value instanceof Date ? encodeDate(value) : value;
  });
}

type Decoded<C> = {
  -readonly [K in keyof C]: C[K] extends 'text' ? string : C[K] extends 'text?' ? string | null : C[K] extends 'date' ? Date : Date | null;
};

/** The table's columns read by name from a row whose keys are `prefix` + column name. */
export function decode<T extends Table>(
  table: T,
  row: Readonly<Record<string, unknown>>,
  prefix: string,
  decodeDate: (value: unknown) => Date,
): Decoded<T['columns']> {
  const out: Record<string, unknown> = {};
  for (const [name, kind] of Object.entries<Kind>(table.columns)) {
    const value = row[prefix + name];
    if (value === undefined) throw new Error(`row has no column ${prefix}${name}`);
    out[name] = value === null || kind === 'text' || kind === 'text?' ? value : decodeDate(value);
  }
  return out as Decoded<T['columns']>;
}

/** `alias."col" AS "prefixcol", …` for every column of the table; `wrap` may transform each (a cast). */
export function selectList(table: Table, alias: string, prefix: string, wrap: (sql: string, kind: Kind) => string = (sql) => sql): string {
  return Object.entries<Kind>(table.columns)
    .map(([name, kind]) => `${wrap(`${alias}.${quote(name)}`, kind)} AS ${quote(prefix + name)}`)
    .join(', ');
}
