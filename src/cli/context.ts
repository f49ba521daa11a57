// What every admin command shares: opening the core quietly, printing for people or scripts,
// reading a password without echo.
import { createInterface } from 'node:readline';
import { InvalidArgumentError } from 'commander';
import { loadConfig } from '../config.js';
import { AdminError } from '../domain/errors.js';
import { createLogger } from '../logger.js';
import { authMethod, isPublicClient } from '../domain/clients.js';
import type { ClientRecord, UserRecord } from '../records.js';
import { Tessera } from '../tessera.js';

export interface GlobalOptions {
  json?: boolean;
}

/** Opens the core for one command and closes it after, whatever happens. */
export async function withTessera<T>(run: (tessera: Tessera) => Promise<T>): Promise<T> {
  const config = loadConfig();
  // One command touches a handful of rows: small caches (lru-cache allocates its capacity up front).
  const small = { accessTokens: 100, users: 100, clients: 100, grants: 100, misses: 100 };
  // Quiet unless LOG_LEVEL says otherwise: a command prints its result, and warnings only.
  const tessera = await Tessera.open(config, createLogger(config.logLevel ?? 'warn', 'cli'), { cacheSizes: small, migrate: true });
  try {
    return await run(tessera);
  } finally {
    await tessera.close();
  }
}

/** An option's value in whole seconds. */
export function seconds(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('a whole number of seconds');
  return Number(value);
}

/** Prints `data` as JSON with --json, else the human lines. */
export function output(options: GlobalOptions, data: unknown, human: () => string): void {
  process.stdout.write(options.json ? `${JSON.stringify(data, null, 2)}\n` : `${human()}\n`);
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

export function publicUser(user: UserRecord) {
  return { id: user.id, username: user.username, email: user.email, active: user.active, createdAt: user.createdAt.toISOString() };
}

export function publicClient(client: ClientRecord) {
  return {
    client_id: client.id,
    name: client.name,
    type: isPublicClient(client) ? 'public' : 'confidential',
    token_endpoint_auth_method: authMethod(client),
    grants: client.grants,
    scopes: client.scopes,
    token_format: client.tokenFormat,
    access_ttl: client.accessTtl,
    refresh_ttl: client.refreshTtl,
    max_session: client.maxSession,
    audience: client.audience,
    redirect_uris: client.redirectUris,
    origins: client.origins,
    introspect: client.canIntrospect,
    browser: client.browser,
    jwks_uri: client.jwksUri,
    // How many keys it registered with --jwks: the keys themselves are long and public anyway.
    jwks_keys: client.jwks?.keys.length ?? null,
    created_at: client.createdAt.toISOString(),
  };
}

export function describe(record: Record<string, unknown>): string {
  const width = Math.max(...Object.keys(record).map((k) => k.length));
  return Object.entries(record)
    .map(([key, value]) => `${`${key}:`.padEnd(width + 1)} ${Array.isArray(value) ? value.join(' ') || '-' : (value ?? '-')}`)
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
  if (!token) throw new AdminError('no token on stdin: pipe it in, e.g. `tessera token revoke --stdin < token.txt`');
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
