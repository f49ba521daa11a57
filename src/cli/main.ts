// The `tessera` admin command. Every failure is one line on stderr and a non-zero exit status.
import { Command, CommanderError } from 'commander';
import { ConfigError, loadConfig } from '../config.js';
import { AdminError } from '../domain/errors.js';
import { AlreadyExistsError, NotFoundError } from '../store/errors.js';
import { applyMigrations } from '../store/migrate.js';
import { clientCommands } from './clients.js';
import { output, type GlobalOptions } from './context.js';
import { keyCommands } from './keys.js';
import { tokenCommands } from './tokens.js';
import { userCommands } from './users.js';

const program = new Command('tessera')
  .description('Tessera: an OAuth 2.0 authorization server and token service')
  .option('--json', 'print JSON for scripts')
  .showHelpAfterError()
  .exitOverride();
const globals = () => program.opts<GlobalOptions>();

program
  .command('migrate')
  .description('create or upgrade the database schema')
  .action(async () => {
    const applied = await applyMigrations(loadConfig().databaseUrl);
    output(globals(), { applied }, () => (applied.length ? `applied: ${applied.join(', ')}` : 'the schema is up to date'));
  });

program
  .command('serve')
  .description('run the server (what `npm start` does)')
  .action(async () => {
    const { serve } = await import('../server.js'); // loaded only here: the other commands start faster
    await serve(loadConfig());
  });

userCommands(program, globals);
clientCommands(program, globals);
tokenCommands(program, globals);
keyCommands(program, globals);

/** The error in one line, without the stack or the database driver's framing. */
function plainMessage(error: unknown): string {
  if (error instanceof AdminError || error instanceof ConfigError) return error.message;
  if (error instanceof AlreadyExistsError || error instanceof NotFoundError) return error.message;
  const lines = (error instanceof Error ? error.message : String(error)).split('\n').filter((line) => line.trim() !== '');
  // Prisma's messages open with where in the code the call was; the cause is on the last line.
  return (lines[0]?.startsWith('Invalid `') ? lines.at(-1) : lines[0])?.trim() ?? 'failed';
}

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // Commander has printed its message already (help and version exit 0).
    process.exit(error.exitCode);
  }
  process.stderr.write(`tessera: ${plainMessage(error)}\n`);
  process.exit(1);
}
