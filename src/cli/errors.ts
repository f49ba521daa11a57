// How the admin command reports a failure: one line (`tessera: …` on stderr), or under --json one
// object `{"error": code, "message": …}` on stdout; never a stack trace.
import { ConfigError } from '../config.js';
import { DumpError, type DumpProblem } from '../domain/django-import.js';
import { AdminError, NoSuchError } from '../domain/errors.js';
import { AlreadyExistsError, NotFoundError } from '../store/errors.js';

/** A failure with its own error code under --json (the admin API's refusals, an unreachable server). */
export class CliError extends AdminError {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

export interface Failure {
  /** not_found, invalid_request, invalid_dump, unauthorized, forbidden, conflict, unavailable, configuration, usage, server_error, failed */
  error: string;
  message: string;
  /** invalid_dump: every problem of the dump, by line and record. */
  problems?: DumpProblem[];
}

/** Where in a dump something is, and what: `line 3, record 2 (auth.user 7): …`. */
export function dumpLine({ line, record, model, pk, message }: DumpProblem): string {
  const what = model === null ? '' : ` (${model}${pk === null ? '' : ` ${pk}`})`;
  return `line ${line}${record === null ? '' : `, record ${record}`}${what}: ${message}`;
}

/** The error in one line, without the stack or the database driver's framing. */
function plainMessage(error: unknown): string {
  if (error instanceof AdminError || error instanceof ConfigError) return error.message;
  if (error instanceof AlreadyExistsError || error instanceof NotFoundError) return error.message;
  const lines = (error instanceof Error ? error.message : String(error)).split('\n').filter((line) => line.trim() !== '');
  // Prisma's messages open with where in the code the call was; the cause is on the last line.
  return (lines[0]?.startsWith('Invalid `') ? lines.at(-1) : lines[0])?.trim() ?? 'failed';
}

export function failureOf(error: unknown): Failure {
  const message = plainMessage(error);
  if (error instanceof CliError) return { error: error.code, message };
  if (error instanceof DumpError) return { error: 'invalid_dump', message, problems: error.problems };
  if (error instanceof NoSuchError || error instanceof NotFoundError) return { error: 'not_found', message };
  if (error instanceof AlreadyExistsError) return { error: 'conflict', message };
  if (error instanceof AdminError) return { error: 'invalid_request', message };
  if (error instanceof ConfigError) return { error: 'configuration', message };
  return { error: 'failed', message };
}
