// The Django side of the `tessera import django` tests: a dump made by Django itself
// (test/django/make_dump.py, run with Debian's Python and its Django, DRF and django-oauth-toolkit),
// what the builder says of it, dumps edited from it, and the command's answers.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { cli, type Run } from './cli.ts';
import { PYTHON } from './debian-python.ts';

/** Debian's Python, which has the Django packages (the `python3` first on PATH does not). */
const MAKE_DUMP = fileURLToPath(new URL('../django/make_dump.py', import.meta.url));

export interface DjangoUser {
  pk: number;
  username: string;
  /** The clear password Django was given (and, for the user with an unusable password, then took away). */
  password: string;
  /** The hash's algorithm as Django names it, or "unusable". */
  algorithm: string;
  active: boolean;
  /** Whether the hash is one Tessera checks (not unusable, not a legacy algorithm). */
  usable: boolean;
  email: string | null;
  /** first_name and last_name, or null when both are blank. */
  name: string | null;
}

export interface DjangoToken {
  key: string;
  user_pk: number;
  username: string;
}

export interface DjangoApplication {
  client_id: string;
  /** The clear secret django-oauth-toolkit 1.x stores. */
  client_secret: string;
  /** The same secret as django-oauth-toolkit 2.x stores it (make_password). */
  hashed_secret: string;
  name: string;
  client_type: 'confidential' | 'public';
  grant: string;
  redirect_uris: string[];
}

export interface DumpRecord {
  model: string;
  pk: unknown;
  fields: Record<string, unknown>;
}

export interface DjangoDump {
  path: string;
  text: string;
  records: DumpRecord[];
  users: DjangoUser[];
  tokens: DjangoToken[];
  applications: DjangoApplication[];
}

/** Runs make_dump.py: the dump it had dumpdata write to `dir` (with `--indent` when given), and what it built. */
export async function makeDump(dir: string, options: { indent?: number; name?: string } = {}): Promise<DjangoDump> {
  const path = join(dir, options.name ?? 'dump.json');
  const args = [MAKE_DUMP, '--output', path, ...(options.indent === undefined ? [] : ['--indent', String(options.indent)])];
  const { stdout } = await promisify(execFile)(PYTHON, args, { cwd: dir });
  const text = readFileSync(path, 'utf8');
  return {
    path,
    text,
    records: JSON.parse(text) as DumpRecord[],
    ...(JSON.parse(stdout) as Omit<DjangoDump, 'path' | 'text' | 'records'>),
  };
}

/**
 * Records written as `dumpdata --indent 2` writes them (the same text for the same records), and
 * the line each record starts on.
 */
export function djangoJson(records: unknown[]): { text: string; lines: number[] } {
  const lines: number[] = [];
  let line = 2; // after the opening "[" line
  const parts = records.map((record) => {
    const part = JSON.stringify(record, null, 2);
    lines.push(line);
    line += part.split('\n').length;
    return part;
  });
  return { text: `[\n${parts.join(',\n')}\n]\n`, lines };
}

export interface Counts {
  created: number;
  unchanged: number;
}

export interface Located {
  line: number;
  record: number;
  model: string;
  pk: unknown;
  message: string;
}

export interface ImportSummary {
  dry_run: boolean;
  users: Counts;
  tokens: Counts;
  clients: Counts;
  clients_to_rotate: string[];
  warnings: Located[];
}

export interface InvalidDump {
  error: 'invalid_dump';
  message: string;
  problems: Located[];
}

/**
 * `tessera import django <file> … --json` (through the admin API at `url` when given): the run, and
 * its stdout parsed (undefined when not JSON).
 */
export async function importDjango(env: Record<string, string>, args: string[], url?: string): Promise<Run & { body: unknown }> {
  const run = await cli(env, [...(url === undefined ? [] : ['--url', url]), 'import', 'django', ...args, '--json']);
  let body: unknown;
  try {
    body = JSON.parse(run.stdout);
  } catch {
    body = undefined;
  }
  return { ...run, body };
}

/** `tessera import django … --json` that must succeed: its summary, or an Error saying what the command said instead. */
export async function imported(env: Record<string, string>, args: string[], url?: string): Promise<ImportSummary> {
  const run = await importDjango(env, args, url);
  if (run.code !== 0 || run.body === undefined)
    throw new Error(
      `import django ${args.join(' ')}: exit ${run.code}, stdout ${JSON.stringify(run.stdout)}, stderr ${JSON.stringify(run.stderr)}`,
    );
  return run.body as ImportSummary;
}

/** A command with --json that must succeed: its parsed output, or an Error saying what it did instead. */
export async function cliJson<T>(env: Record<string, string>, args: string[]): Promise<T> {
  const run = await cli(env, [...args, '--json']);
  if (run.code !== 0 || run.stdout === '')
    throw new Error(`${args.join(' ')}: exit ${run.code}, stdout ${JSON.stringify(run.stdout)}, stderr ${JSON.stringify(run.stderr)}`);
  return JSON.parse(run.stdout) as T;
}

/** Every user and client the database has, as `user list` and `client list` show them. */
export async function snapshot(env: Record<string, string>): Promise<{ users: unknown; clients: unknown }> {
  const [users, clients] = await Promise.all([cliJson(env, ['user', 'list']), cliJson(env, ['client', 'list'])]);
  return { users, clients };
}
