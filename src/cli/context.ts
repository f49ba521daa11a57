// What every admin command shares: the admin operations (on the database, or a running server's
// admin API), printing for people or scripts, reading a password without echo.
import { userInfo } from 'node:os';
import { createInterface } from 'node:readline';
import { InvalidArgumentError } from 'commander';
import { MAX_PAGE, type AdminApi, type PageQuery, type PageView } from '../admin/api.js';
import { localAdmin } from '../admin/local.js';
import { loadConfig } from '../config.js';
import { AdminError } from '../domain/errors.js';
import { createLogger } from '../logger.js';
import { requireDatabase } from '../store/migrate.js';
import { Tessera } from '../tessera.js';
import { CliError } from './errors.js';
import { remoteAdmin } from './remote.js';

export interface GlobalOptions {
  json?: boolean;
  url?: string;
}

let globals: GlobalOptions = {};

/** The options given to `tessera` itself (before or after the subcommand), set before a command runs. */
export function setGlobals(options: GlobalOptions): void {
  globals = options;
}

/** Opens the core for one command and closes it after, whatever happens. */
export async function withTessera<T>(run: (tessera: Tessera) => Promise<T>): Promise<T> {
  const config = loadConfig();
  // First: only `serve` and `migrate` create a database (or the data folder, or a generated secret).
  await requireDatabase(config.databaseUrl);
  // One command touches a handful of rows: small caches (lru-cache allocates its capacity up front).
  const small = { accessTokens: 100, users: 100, clients: 100, grants: 100, misses: 100 };
  // Quiet unless LOG_LEVEL says otherwise: a command prints its result, and warnings only. It never
  // upgrades the schema as a side effect: an out-of-date one is refused (`tessera migrate` does that).
  const tessera = await Tessera.open(config, createLogger(config.logLevel ?? 'warn', 'cli'), { cacheSizes: small, schema: 'check' });
  try {
    return await run(tessera);
  } finally {
    await tessera.close();
  }
}

/** Who the audit log names for a change made on the database: `cli:<os user>`. */
function actor(): string {
  try {
    return `cli:${userInfo().username}`;
  } catch {
    // No entry for this uid (some containers).
    return `cli:${process.env.USER ?? process.env.LOGNAME ?? `uid-${process.getuid?.() ?? 'unknown'}`}`;
  }
}

/**
 * Runs `run` with the admin operations: through a running server's admin API with --url (or
 * TESSERA_ADMIN_URL) and the admin client's credentials, else on the database itself.
 */
export async function withAdmin<T>(run: (admin: AdminApi) => Promise<T>): Promise<T> {
  const url = globals.url || process.env.TESSERA_ADMIN_URL || undefined;
  if (url === undefined) return withTessera((tessera) => run(localAdmin(tessera.adminServices, actor())));
  const clientId = process.env.TESSERA_ADMIN_CLIENT_ID;
  const secret = process.env.TESSERA_ADMIN_CLIENT_SECRET;
  if (!clientId || !secret) {
    throw new CliError(
      "--url needs an admin client's credentials: set TESSERA_ADMIN_CLIENT_ID and TESSERA_ADMIN_CLIENT_SECRET",
      'configuration',
    );
  }
  return run(remoteAdmin(url, clientId, secret));
}

/**
 * A list: one page of `limit` items when --limit is given, else every item from `cursor` on, page
 * after page; either way in the admin API's shape, `{items, next_cursor}`.
 */
export async function listed<T>(page: (query: PageQuery) => Promise<PageView<T>>, options: PageQuery): Promise<PageView<T>> {
  if (options.limit !== undefined) return page(options);
  const items: T[] = [];
  let cursor = options.cursor;
  for (;;) {
    const next = await page({ limit: MAX_PAGE, ...(cursor !== undefined && { cursor }) });
    items.push(...next.items);
    if (next.next_cursor === null || next.next_cursor === cursor || next.items.length === 0) return { items, next_cursor: null };
    cursor = next.next_cursor;
  }
}

/** --limit: a page's length. */
export function pageLength(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > MAX_PAGE)
    throw new InvalidArgumentError(`a whole number from 1 to ${MAX_PAGE}`);
  return Number(value);
}

/** The line that tells how to go on after a page given with --limit. */
export function more(page: PageView<unknown>, command: string): string[] {
  return page.next_cursor === null ? [] : ['', `more: tessera ${command} --limit ${page.items.length} --cursor ${page.next_cursor}`];
}

/** An option's value in whole seconds. */
export function seconds(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('a whole number of seconds');
  return Number(value);
}

/** Whether --json was given: one JSON document on stdout. */
export function jsonOutput(): boolean {
  return globals.json === true;
}

/** Prints `data` as JSON with --json, else the human lines. */
export function output(data: unknown, human: () => string): void {
  process.stdout.write(jsonOutput() ? `${JSON.stringify(data, null, 2)}\n` : `${human()}\n`);
}

export function table(rows: string[][]): string {
  if (rows.length === 0) return '';
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows
    .map((r) =>
      r
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

function shown(value: unknown): string {
  if (Array.isArray(value)) return value.join(' ') || '-';
  if (value === null || value === undefined) return '-';
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

/** A record as `key: value` lines. */
export function describe(record: Record<string, unknown>): string {
  const width = Math.max(...Object.keys(record).map((k) => k.length));
  return Object.entries(record)
    .map(([key, value]) => `${`${key}:`.padEnd(width + 1)} ${shown(value)}`)
    .join('\n');
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

/** Reads one line from the terminal without echoing it. */
async function promptHidden(question: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  const out = rl as unknown as { _writeToOutput: (s: string) => void; output: NodeJS.WritableStream };
  let asked = false;
  out._writeToOutput = (s: string) => {
    if (!asked) out.output.write(s);
  };
  try {
    return await new Promise<string>((resolve) => {
      rl.question(question, (answer) => resolve(answer));
      asked = true;
    });
  } finally {
    process.stderr.write('\n');
    rl.close();
  }
}

/**
 * A token to act on, read from stdin: a token on the command line would be kept in the shell's
 * history and shown to every user of the machine by `ps`.
 */
export async function readToken(): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write('Token (then Enter, Ctrl-D): ');
  const token = (await readStdin()).trim();
  if (!token)
    throw new AdminError('no token on stdin: pipe one in (`tessera token revoke --stdin < token.txt`), or give --user U or --client C');
  return token;
}

export async function readPassword(fromStdin: boolean | undefined): Promise<string> {
  if (fromStdin) return readStdin();
  if (!process.stdin.isTTY) throw new AdminError('no terminal to ask for the password on: pass --password-stdin and pipe it in');
  const first = await promptHidden('Password: ');
  const again = await promptHidden('Password (again): ');
  if (first !== again) throw new AdminError('the passwords do not match');
  return first;
}
