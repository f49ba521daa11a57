// `tessera import django`: users, Django REST framework tokens and django-oauth-toolkit
// applications, from what `manage.py dumpdata auth.user authtoken.token
// oauth2_provider.application` writes. The whole dump is checked before anything is written, every
// problem is told with its line and record, and the rows land in one transaction or not at all.
// What an earlier import brought over is left as it is: Tessera owns it from then on.
import { hash, randomUUID } from 'node:crypto';
import { getNodeValue, parseTree, printParseErrorCode, type ParseError } from 'jsonc-parser';
import type { ClientRecord, NewAccessToken } from '../records.js';
import type { NewClient } from '../store/clients.js';
import type { ExistingRecords, ImportedUser, ImportRows, ImportStore } from '../store/imports.js';
import { tokenDigest, isDrfKey } from '../tokens/opaque.js';
import type { ClientRegistration } from './clients.js';
import { classifyDjangoHash } from './django-passwords.js';
import { AdminError } from './errors.js';
import { checkedProfile, checkUsername } from './users.js';

/** A NUL as JSON.stringify writes it: `\u0000` after an even number of backslashes (an odd one escapes the text `\u0000`). */
const ESCAPED_NUL = /(?:^|[^\\])(?:\\\\)*\\u0000/;
/** A dump bigger than this is refused before it is parsed (about 300 000 users). */
export const MAX_DUMP_BYTES = 100 * 1024 * 1024;
/** Problems told at most; a dump with more is usually the wrong file. */
const MAX_PROBLEMS = 1000;
/** DRF keys never expire; as access tokens they live this long (ten years), or until revoked. */
const DRF_KEY_LIFETIME_MS = 3650 * 86_400_000;
/** What Django stores as an unusable password (set_unusable_password), and what a refused legacy hash becomes. */
const UNUSABLE = '!';

const USER = 'auth.user';
const TOKEN = 'authtoken.token';
const APPLICATION = 'oauth2_provider.application';

/** DOT's authorization_grant_type → Tessera's grants, and whether the mapping changes what the client does. */
const DOT_GRANTS: Readonly<Record<string, { grants: string[]; warning?: string }>> = {
  'authorization-code': { grants: ['authorization_code'] },
  password: { grants: ['password'] },
  'client-credentials': { grants: ['client_credentials'] },
  implicit: {
    grants: ['authorization_code'],
    warning: 'the implicit grant is not supported (OAuth 2.1 drops it): imported for the authorization code flow with PKCE',
  },
  'openid-hybrid': {
    grants: ['authorization_code'],
    warning: 'the OpenID Connect hybrid flow is not supported: imported for the authorization code flow with PKCE',
  },
};

export interface DumpProblem {
  /** The line of the file where the record starts. */
  line: number;
  /** The record's 1-based position in the dump's array; null for the file as a whole. */
  record: number | null;
  model: string | null;
  pk: string | number | null;
  message: string;
}

/** The dump cannot be imported: every problem found, and nothing was written. */
export class DumpError extends AdminError {
  constructor(
    readonly problems: DumpProblem[],
    total = problems.length,
  ) {
    super(`${total === 1 ? '1 problem' : `${total} problems`} in the dump; nothing was written`);
  }
}

export interface ImportCounts {
  created: number;
  unchanged: number;
}

export interface ImportReport {
  dryRun: boolean;
  users: ImportCounts;
  tokens: ImportCounts;
  clients: ImportCounts;
  /** Clients imported with a hashed secret: they authenticate only after `client rotate-secret`. */
  clientsToRotate: string[];
  warnings: DumpProblem[];
}

export interface ImportOptions {
  /** The client the DRF tokens become access tokens of; needed when the dump holds tokens. */
  tokenClient?: string;
  dryRun?: boolean;
}

/** What the import uses of the rest of the core. */
export interface ImportServices {
  store: Pick<ImportStore, 'existing' | 'create'>;
  clients: {
    get(id: string): Promise<ClientRecord>;
    imported(id: string, input: ClientRegistration, secret: string | null): NewClient;
  };
}

/** A record of the dump with where it is. */
interface Located {
  line: number;
  record: number;
  model: string;
  pk: string | number;
  fields: Record<string, unknown>;
}

type Fields = Record<string, unknown>;

const isObject = (value: unknown): value is Fields => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The line (1-based) of each offset, by binary search over where the lines start. */
function lineFinder(text: string): (offset: number) => number {
  const starts = [0];
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  return (offset) => {
    let low = 0;
    let high = starts.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if (starts[mid]! <= offset) low = mid;
      else high = mid - 1;
    }
    return low + 1;
  };
}

/** A text field, '' when absent or null (Django's blank); a problem when it is something else. */
function text(fields: Fields, name: string): string {
  const value = fields[name];
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string') throw new AdminError(`${name} must be a string`);
  return value;
}

/** What the import remembers of a user's username: enough to recognise it, nothing to read back after the user is deleted. */
const usernameDigest = (username: string) => hash('sha256', username, 'hex');

/** Where each kind of record came from, as the import remembers it (see store/imports.ts). */
const userSource = (pk: string) => `django:${USER}:${pk}`;
const tokenSource = (digest: string) => `django:${TOKEN}:${digest}`;
const clientSource = (id: string) => `django:${APPLICATION}:${id}`;

/** A Django user as the plan knows them: their Tessera id, and whether that user still exists. */
interface PlannedUser {
  id: string;
  live: boolean;
}

class ImportPlan {
  readonly problems: DumpProblem[] = [];
  readonly warnings: DumpProblem[] = [];
  readonly rows: ImportRows = { users: [], clients: [], tokens: [], imported: [] };
  readonly unchanged = { users: 0, tokens: 0, clients: 0 };
  readonly clientsToRotate: string[] = [];
  /** Django user pk → the user (null: the record had a problem, already told). */
  private readonly userIds = new Map<string, PlannedUser | null>();
  /** The dump's users by exact username (natural keys) and by username ignoring case (twins). */
  private readonly byUsername = new Map<string, string>();
  private readonly byFolded = new Map<string, { line: number; record: number }>();
  private readonly tokenKeys = new Map<string, number>();
  private readonly clientIds = new Map<string, number>();
  private readonly liveUsers: Set<string>;
  private readonly takenNames: Map<string, string>;

  constructor(
    private readonly existing: ExistingRecords,
    private readonly services: ImportServices,
    private readonly tokenClient: ClientRecord | null,
    private readonly now: Date,
  ) {
    this.liveUsers = new Set(existing.users.map((u) => u.id));
    this.takenNames = new Map(existing.users.map((u) => [u.username.toLowerCase(), u.username]));
  }

  problem(at: Pick<DumpProblem, 'line' | 'record' | 'model' | 'pk'>, message: string): void {
    this.problems.push({ ...at, message });
  }

  /** Each record in turn; an AdminError thrown while reading it is that record's problem. */
  read(record: Located, planRecord: (record: Located) => void): void {
    try {
      planRecord(record);
    } catch (error) {
      if (!(error instanceof AdminError)) throw error;
      this.problem(shown(record), error.message);
    }
  }

  user = (record: Located): void => {
    const key = String(record.pk);
    if (this.userIds.has(key)) throw new AdminError(`a second ${USER} with pk ${key}`);
    this.userIds.set(key, null);
    const username = text(record.fields, 'username');
    const folded = username.toLowerCase();
    const twin = this.byFolded.get(folded);
    if (twin) {
      const same = this.byUsername.has(username) ? 'is also' : 'differs only in case from';
      throw new AdminError(`username "${username}" ${same} the one in record ${twin.record} (line ${twin.line})`);
    }
    this.byFolded.set(folded, record);
    this.byUsername.set(username, key);
    const source = userSource(key);
    const before = this.existing.imported.get(source);
    if (before) {
      // The same pk under another name is another Django database's user (or one renamed since):
      // its tokens must not reach the user imported before.
      if (before.label !== usernameDigest(username))
        throw new AdminError(
          `pk ${key} was imported before under another username than "${username}": is this dump from another Django database?`,
        );
      this.userIds.set(key, { id: before.targetId, live: this.liveUsers.has(before.targetId) });
      this.unchanged.users++;
      return;
    }
    const taken = this.takenNames.get(folded);
    if (taken !== undefined)
      throw new AdminError(`username "${username}" is taken in Tessera by "${taken}", a user not imported from this record`);
    checkUsername(username);
    const name = [text(record.fields, 'first_name'), text(record.fields, 'last_name')]
      .map((part) => part.trim())
      .filter(Boolean)
      .join(' ');
    const email = text(record.fields, 'email').trim();
    const profile = checkedProfile({ email: email || null, name: name || null });
    const active = record.fields.is_active ?? true;
    if (typeof active !== 'boolean') throw new AdminError('is_active must be true or false');
    const user: ImportedUser = {
      id: randomUUID(),
      username,
      email: profile.email ?? null,
      name: profile.name ?? null,
      passwordHash: this.passwordHash(record, text(record.fields, 'password')),
      active,
    };
    this.rows.users.push(user);
    this.rows.imported.push({ source, targetId: user.id, label: usernameDigest(username) });
    this.userIds.set(key, { id: user.id, live: true });
  };

  /** The hash kept for the user: Django's own where Tessera verifies it, else an unusable password. */
  private passwordHash(record: Located, encoded: string): string {
    const verdict = classifyDjangoHash(encoded);
    switch (verdict.kind) {
      case 'supported':
        return encoded;
      case 'unusable':
        return UNUSABLE;
      case 'legacy':
        this.warnings.push({
          ...shown(record),
          message: `the ${verdict.algorithm} password hash is not accepted (unsalted or too weak): imported without a password; set one with \`tessera user set-password\``,
        });
        return UNUSABLE;
      case 'malformed':
        throw new AdminError(`password: ${verdict.reason}`);
    }
  }

  token = (record: Located): void => {
    const key = String(record.pk);
    if (!isDrfKey(key)) throw new AdminError('the key (pk) must be 40 hexadecimal characters');
    const twin = this.tokenKeys.get(key);
    if (twin !== undefined) throw new AdminError(`the same key as record ${twin}`);
    this.tokenKeys.set(key, record.record);
    const user = this.tokenUser(record.fields.user);
    // Without a token client (told once, in run) or a user (told at the user's record) there is nothing more to check.
    if (user === null || !this.tokenClient) return;
    const digest = tokenDigest(key);
    const source = tokenSource(digest);
    if (this.existing.imported.has(source)) {
      this.unchanged.tokens++;
      return;
    }
    if (!user.live) {
      this.warnings.push({ ...shown(record), message: 'its user was imported before and has been deleted in Tessera since: not imported' });
      return;
    }
    const token: NewAccessToken = {
      digest,
      clientId: this.tokenClient.id,
      userId: user.id,
      grantId: null,
      scope: this.tokenClient.scopes.join(' '),
      issuedAt: this.now,
      expiresAt: new Date(this.now.getTime() + DRF_KEY_LIFETIME_MS),
    };
    this.rows.tokens.push(token);
    this.rows.imported.push({ source, targetId: digest, label: null });
  };

  /**
   * A token's user: by pk, in the dump or imported before; or by natural key (`dumpdata
   * --natural-foreign`: `["username"]`), in the dump only, since a username alone cannot say
   * which Django database a user came from.
   */
  private tokenUser(reference: unknown): PlannedUser | null {
    if (Array.isArray(reference) && reference.length === 1 && typeof reference[0] === 'string') {
      const pk = this.byUsername.get(reference[0]);
      if (pk === undefined) throw new AdminError(`no user "${reference[0]}" in the dump (a natural key names a user of the same dump)`);
      return this.userIds.get(pk) ?? null;
    }
    if (typeof reference !== 'number' && typeof reference !== 'string') throw new AdminError('user must be the pk of an auth.user');
    const key = String(reference);
    const inDump = this.userIds.get(key);
    if (inDump !== undefined) return inDump;
    const before = this.existing.imported.get(userSource(key));
    if (!before) throw new AdminError(`no ${USER} with pk ${key} in the dump or imported before`);
    return { id: before.targetId, live: this.liveUsers.has(before.targetId) };
  }

  application = (record: Located): void => {
    const { fields } = record;
    const id = text(fields, 'client_id');
    const twin = this.clientIds.get(id);
    if (twin !== undefined) throw new AdminError(`client_id "${id}" is also record ${twin}'s`);
    this.clientIds.set(id, record.record);
    const source = clientSource(id);
    if (this.existing.imported.has(source)) {
      this.unchanged.clients++;
      return;
    }
    if (this.existing.clientIds.has(id))
      throw new AdminError(`client_id "${id}" is taken in Tessera by a client not imported from this record`);
    const type = text(fields, 'client_type');
    if (type !== 'confidential' && type !== 'public') throw new AdminError('client_type must be confidential or public');
    const grantType = text(fields, 'authorization_grant_type');
    const mapping = DOT_GRANTS[grantType];
    if (!mapping) throw new AdminError(`unknown authorization_grant_type "${grantType}" (one of: ${Object.keys(DOT_GRANTS).join(', ')})`);
    const secret = type === 'public' ? null : clearSecret(fields);
    const name = text(fields, 'name').trim() || id;
    const redirectUris = text(fields, 'redirect_uris').split(/\s+/).filter(Boolean);
    const client = this.services.clients.imported(id, { name, public: type === 'public', grants: mapping.grants, redirectUris }, secret);
    if (mapping.warning) this.warnings.push({ ...shown(record), message: mapping.warning });
    if (type === 'confidential' && secret === null) this.clientsToRotate.push(id);
    this.rows.clients.push(client);
    this.rows.imported.push({ source, targetId: id, label: null });
  };
}

/**
 * The secret as DOT 1.x keeps it, in clear; null when it cannot be carried over. DOT 2.x hashes it
 * (`hash_client_secret`; before 2.4 without saying so) with whatever hasher the project set, and
 * a hash must never become the secret: any `algorithm$…` value counts as hashed (DOT's generated
 * secrets are letters and digits).
 */
function clearSecret(fields: Fields): string | null {
  const secret = text(fields, 'client_secret');
  if (fields.hash_client_secret === true || secret === '' || /^[a-z][a-z0-9_]*\$/.test(secret)) return null;
  return secret;
}

/** Where a record is, for a problem or a warning: a token's key shortened, never printed whole. */
function shown(record: Pick<DumpProblem, 'line' | 'record' | 'model' | 'pk'>): Pick<DumpProblem, 'line' | 'record' | 'model' | 'pk'> {
  const secret = typeof record.pk === 'string' && (/token/i.test(record.model ?? '') || isDrfKey(record.pk));
  return { line: record.line, record: record.record, model: record.model, pk: secret ? `${String(record.pk).slice(0, 8)}…` : record.pk };
}

/** The dump's records with where each starts, or the problems that stop it from being read at all. */
function readDump(text: string): { records: Located[]; problems: DumpProblem[] } {
  const whole = (line: number, message: string) => ({ records: [], problems: [{ line, record: null, model: null, pk: null, message }] });
  if (Buffer.byteLength(text) > MAX_DUMP_BYTES) return whole(1, `the dump is larger than ${MAX_DUMP_BYTES / 1024 / 1024} MiB`);
  const json = text.replace(/^\uFEFF/, '');
  const lineOf = lineFinder(json);
  const errors: ParseError[] = [];
  const root = parseTree(json, errors, {
    disallowComments: true,
    allowTrailingComma: false,
    allowEmptyContent: false,
  });
  const [error] = errors;
  if (error) {
    const column = error.offset - json.lastIndexOf('\n', error.offset - 1);
    const what = printParseErrorCode(error.error).replace(/[A-Z]/g, (letter, at: number) => `${at ? ' ' : ''}${letter.toLowerCase()}`);
    return whole(lineOf(error.offset), `not JSON (column ${column}): ${what}`);
  }
  if (root?.type !== 'array') return whole(1, 'a dump is a JSON array of records, as manage.py dumpdata writes');
  const records: Located[] = [];
  const problems: DumpProblem[] = [];
  (root.children ?? []).forEach((node, index) => {
    const at = { line: lineOf(node.offset), record: index + 1 };
    const value: unknown = getNodeValue(node);
    const model = isObject(value) && typeof value.model === 'string' ? value.model : null;
    const pk = isObject(value) && (typeof value.pk === 'number' || typeof value.pk === 'string') ? value.pk : null;
    if (!isObject(value) || model === null || pk === null || !isObject(value.fields))
      problems.push({
        ...shown({ ...at, model, pk }),
        message: 'a record is an object with "model", "pk" and "fields", as manage.py dumpdata writes',
      });
    else if (model !== USER && model !== TOKEN && model !== APPLICATION)
      problems.push({ ...shown({ ...at, model, pk }), message: `unknown model: dump only ${USER}, ${TOKEN} and ${APPLICATION}` });
    // PostgreSQL stores no NUL in text, and no field of these models may hold one.
    else if (ESCAPED_NUL.test(JSON.stringify(value)))
      problems.push({ ...shown({ ...at, model, pk }), message: 'a field holds a NUL character' });
    else records.push({ ...at, model, pk, fields: value.fields });
  });
  if (records.length === 0 && problems.length === 0)
    problems.push({ line: 1, record: null, model: null, pk: null, message: 'the dump holds no record' });
  return { records, problems };
}

export class DjangoImport {
  constructor(private readonly services: ImportServices) {}

  async run(dump: string, options: ImportOptions = {}): Promise<ImportReport> {
    const { records, problems } = readDump(dump);
    if (problems.length > 0 && records.length === 0) throw new DumpError(problems);
    const tokenClient = options.tokenClient === undefined ? null : await this.services.clients.get(options.tokenClient);
    if (tokenClient?.admin) throw new AdminError('--token-client cannot be an admin client');
    const existing = await this.services.store.existing(
      records.flatMap((r) => {
        if (r.model === USER) return [userSource(String(r.pk))];
        if (r.model === APPLICATION) return typeof r.fields.client_id === 'string' ? [clientSource(r.fields.client_id)] : [];
        const user = r.fields.user;
        return [
          ...(isDrfKey(String(r.pk)) ? [tokenSource(tokenDigest(String(r.pk)))] : []),
          ...(typeof user === 'number' || typeof user === 'string' ? [userSource(String(user))] : []),
        ];
      }),
      records.flatMap((r) => (r.model === APPLICATION && typeof r.fields.client_id === 'string' ? [r.fields.client_id] : [])),
    );
    const now = new Date();
    const plan = new ImportPlan(existing, this.services, tokenClient, now);
    plan.problems.push(...problems);
    // Users first, whatever the order in the file: tokens name them.
    for (const record of records) if (record.model === USER) plan.read(record, plan.user);
    const tokens = records.filter((record) => record.model === TOKEN);
    if (tokens[0] && !tokenClient)
      plan.problem(shown(tokens[0]), 'the dump holds DRF tokens: name the client they become access tokens of with --token-client');
    for (const record of tokens) plan.read(record, plan.token);
    for (const record of records) if (record.model === APPLICATION) plan.read(record, plan.application);
    if (plan.problems.length > 0) {
      const told = plan.problems.sort((a, b) => (a.record ?? 0) - (b.record ?? 0)).slice(0, MAX_PROBLEMS);
      throw new DumpError(told, plan.problems.length);
    }
    if (!options.dryRun) await this.services.store.create(plan.rows, now);
    const counts = (created: number, unchanged: number) => ({ created, unchanged });
    return {
      dryRun: options.dryRun === true,
      users: counts(plan.rows.users.length, plan.unchanged.users),
      tokens: counts(plan.rows.tokens.length, plan.unchanged.tokens),
      clients: counts(plan.rows.clients.length, plan.unchanged.clients),
      clientsToRotate: plan.clientsToRotate,
      warnings: plan.warnings,
    };
  }
}
