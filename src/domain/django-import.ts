// `tessera import django`: users, Django REST framework tokens and django-oauth-toolkit
// applications, from what `manage.py dumpdata auth.user authtoken.token
// oauth2_provider.application` writes. The whole dump is checked before anything is written, every
// problem is told with its line and record, and the rows land in one transaction or not at all.
// What an earlier import brought over is left as it is: Tessera owns it from then on.
import { randomUUID } from 'node:crypto';
import { getNodeValue, parseTree, printParseErrorCode, type ParseError } from 'jsonc-parser';
import type { ClientRecord, NewAccessToken } from '../records.js';
import type { NewClient } from '../store/clients.js';
import type { ExistingRecords, ImportedUser, ImportRows } from '../store/imports.js';
import { tokenDigest, isDrfKey } from '../tokens/opaque.js';
import type { ClientRegistration } from './clients.js';
import { classifyDjangoHash } from './django-passwords.js';
import { AdminError } from './errors.js';
import { checkedProfile, checkUsername } from './users.js';

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
  store: {
    existing(clientIds: string[], tokenDigests: string[]): Promise<ExistingRecords>;
    create(rows: ImportRows, now: Date): Promise<void>;
  };
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

class ImportPlan {
  readonly problems: DumpProblem[] = [];
  readonly warnings: DumpProblem[] = [];
  readonly rows: ImportRows = { users: [], clients: [], tokens: [] };
  readonly unchanged = { users: 0, tokens: 0, clients: 0 };
  readonly clientsToRotate: string[] = [];
  /** Django user pk → Tessera user id (null: the record had a problem, already told). */
  private readonly userIds = new Map<string, string | null>();
  private readonly usernames = new Map<string, { id: string | null; line: number; record: number }>();
  private readonly tokenKeys = new Map<string, number>();
  private readonly clientIds = new Map<string, number>();
  private readonly existingByOrigin: Map<string, { id: string; username: string }>;
  private readonly existingByName: Map<string, { id: string; username: string; importedFrom: string | null }>;

  constructor(
    private readonly existing: ExistingRecords,
    private readonly services: ImportServices,
    private readonly tokenClient: ClientRecord | null,
    private readonly now: Date,
  ) {
    this.existingByOrigin = new Map(existing.users.flatMap((u) => (u.importedFrom === null ? [] : [[u.importedFrom, u]])));
    this.existingByName = new Map(existing.users.map((u) => [u.username.toLowerCase(), u]));
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
    const twin = this.usernames.get(folded);
    if (twin) throw new AdminError(`username "${username}" differs only in case from the one in record ${twin.record} (line ${twin.line})`);
    const origin = `django:${key}`;
    const already = this.existingByOrigin.get(origin);
    this.usernames.set(folded, { id: already?.id ?? null, line: record.line, record: record.record });
    if (already) {
      this.userIds.set(key, already.id);
      this.unchanged.users++;
      return;
    }
    const taken = this.existingByName.get(folded);
    if (taken)
      throw new AdminError(`username "${username}" is taken in Tessera by "${taken.username}", a user not imported from this record`);
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
      importedFrom: origin,
    };
    this.rows.users.push(user);
    this.userIds.set(key, user.id);
    this.usernames.set(folded, { id: user.id, line: record.line, record: record.record });
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
    const userId = this.tokenUser(record.fields.user);
    // Without a token client (told once, in run) or a user (told at the user's record) there is nothing more to check.
    if (userId === null || !this.tokenClient) return;
    const digest = tokenDigest(key);
    if (this.existing.tokenDigests.has(digest)) {
      this.unchanged.tokens++;
      return;
    }
    const token: NewAccessToken = {
      digest,
      clientId: this.tokenClient.id,
      userId,
      grantId: null,
      scope: this.tokenClient.scopes.join(' '),
      issuedAt: this.now,
      expiresAt: new Date(this.now.getTime() + DRF_KEY_LIFETIME_MS),
    };
    this.rows.tokens.push(token);
  };

  /** The Tessera id of a token's user: by pk, or by natural key (`dumpdata --natural-foreign`: `["username"]`). */
  private tokenUser(reference: unknown): string | null {
    if (Array.isArray(reference) && reference.length === 1 && typeof reference[0] === 'string') {
      const folded = reference[0].toLowerCase();
      const inDump = this.usernames.get(folded);
      if (inDump) return inDump.id;
      const known = this.existingByName.get(folded);
      if (!known) throw new AdminError(`no user "${reference[0]}" in the dump or in Tessera`);
      return known.id;
    }
    if (typeof reference !== 'number' && typeof reference !== 'string') throw new AdminError('user must be the pk of an auth.user');
    const key = String(reference);
    const inDump = this.userIds.get(key);
    if (inDump !== undefined) return inDump;
    const imported = this.existingByOrigin.get(`django:${key}`);
    if (!imported) throw new AdminError(`no ${USER} with pk ${key} in the dump or imported before`);
    return imported.id;
  }

  application = (record: Located): void => {
    const { fields } = record;
    const id = text(fields, 'client_id');
    const twin = this.clientIds.get(id);
    if (twin !== undefined) throw new AdminError(`client_id "${id}" is also record ${twin}'s`);
    this.clientIds.set(id, record.record);
    if (this.existing.clientIds.has(id)) {
      this.unchanged.clients++;
      return;
    }
    const type = text(fields, 'client_type');
    if (type !== 'confidential' && type !== 'public') throw new AdminError('client_type must be confidential or public');
    const grantType = text(fields, 'authorization_grant_type');
    const mapping = DOT_GRANTS[grantType];
    if (!mapping) throw new AdminError(`unknown authorization_grant_type "${grantType}" (one of: ${Object.keys(DOT_GRANTS).join(', ')})`);
    const secret = type === 'public' ? null : this.clearSecret(fields);
    const name = text(fields, 'name').trim() || id;
    const redirectUris = text(fields, 'redirect_uris').split(/\s+/).filter(Boolean);
    const client = this.services.clients.imported(id, { name, public: type === 'public', grants: mapping.grants, redirectUris }, secret);
    if (mapping.warning) this.warnings.push({ ...shown(record), message: mapping.warning });
    if (type === 'confidential' && secret === null) this.clientsToRotate.push(id);
    this.rows.clients.push(client);
  };

  /** DOT 1.x keeps the secret in clear; DOT 2.x hashes it (`hash_client_secret`), and a hash cannot be carried over. */
  private clearSecret(fields: Fields): string | null {
    const secret = text(fields, 'client_secret');
    if (fields.hash_client_secret === true || secret === '') return null;
    return classifyDjangoHash(secret).kind === 'supported' ? null : secret;
  }
}

/** Where a record is, for a problem or a warning: a token's key shortened, never printed whole. */
function shown(record: Located): Pick<DumpProblem, 'line' | 'record' | 'model' | 'pk'> {
  const pk = record.model === TOKEN && typeof record.pk === 'string' ? `${record.pk.slice(0, 8)}…` : record.pk;
  return { line: record.line, record: record.record, model: record.model, pk };
}

/** The dump's records with where each starts, or the problems that stop it from being read at all. */
function readDump(text: string): { records: Located[]; problems: DumpProblem[] } {
  const whole = (line: number, message: string) => ({ records: [], problems: [{ line, record: null, model: null, pk: null, message }] });
  if (Buffer.byteLength(text) > MAX_DUMP_BYTES) return whole(1, `the dump is larger than ${MAX_DUMP_BYTES / 1024 / 1024} MiB`);
  const lineOf = lineFinder(text);
  const errors: ParseError[] = [];
  const root = parseTree(text.replace(/^\uFEFF/, ''), errors, {
    disallowComments: true,
    allowTrailingComma: false,
    allowEmptyContent: false,
  });
  const [error] = errors;
  if (error) return whole(lineOf(error.offset), `not JSON: ${printParseErrorCode(error.error)}`);
  if (root?.type !== 'array') return whole(1, 'a dump is a JSON array of records, as manage.py dumpdata writes');
  const records: Located[] = [];
  const problems: DumpProblem[] = [];
  (root.children ?? []).forEach((node, index) => {
    const at = { line: lineOf(node.offset), record: index + 1 };
    const value: unknown = getNodeValue(node);
    const model = isObject(value) && typeof value.model === 'string' ? value.model : null;
    const pk = isObject(value) && (typeof value.pk === 'number' || typeof value.pk === 'string') ? value.pk : null;
    if (!isObject(value) || model === null || pk === null || !isObject(value.fields))
      problems.push({ ...at, model, pk, message: 'a record is an object with "model", "pk" and "fields", as manage.py dumpdata writes' });
    else if (model !== USER && model !== TOKEN && model !== APPLICATION)
      problems.push({ ...at, model, pk, message: `unknown model: dump only ${USER}, ${TOKEN} and ${APPLICATION}` });
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
      records.flatMap((r) => (r.model === APPLICATION && typeof r.fields.client_id === 'string' ? [r.fields.client_id] : [])),
      records.flatMap((r) => (r.model === TOKEN && isDrfKey(String(r.pk)) ? [tokenDigest(String(r.pk))] : [])),
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
