// The `tessera` admin command. Every failure is one line on stderr (under --json, a JSON object on
// stdout) and a non-zero exit status; never a stack trace.
import { Command, CommanderError } from 'commander';
import { loadConfig } from '../config.js';
import { tesseraVersion } from '../metrics.js';
import { applyMigrations } from '../store/migrate.js';
import { auditCommands } from './audit.js';
import { clientCommands } from './clients.js';
import { output, setGlobals, type GlobalOptions } from './context.js';
import { dumpLine, failureOf, type Failure } from './errors.js';
import { importCommands } from './import.js';
import { keyCommands } from './keys.js';
import { tokenCommands } from './tokens.js';
import { userCommands } from './users.js';

/** Commander's own complaints (unknown option, missing argument), kept to be said as JSON under --json. */
let usageError = '';
/** --json, whether or not parsing got as far as the subcommand: before the first `--`. */
const jsonWanted = () => {
  const args = process.argv.slice(2);
  const end = args.indexOf('--');
  return (end === -1 ? args : args.slice(0, end)).includes('--json');
};

const program = new Command('tessera')
  .description('Tessera: an OAuth 2.0 authorization server and token service')
  .version(tesseraVersion(), '-V, --version', 'print the version')
  .option('--json', 'print one JSON document for scripts (errors too)')
  .option('--url <url>', "work through a running server's admin API (admin listener URL; or TESSERA_ADMIN_URL)")
  .helpOption('-h, --help', 'show help')
  .showHelpAfterError()
  .exitOverride()
  .configureOutput({
    writeErr: (text) => {
      if (jsonWanted()) usageError ||= text;
      else process.stderr.write(text);
    },
  })
  .hook('preAction', () => setGlobals(program.opts<GlobalOptions>()));

program
  .command('migrate')
  .description('create or upgrade the database schema')
  .action(async () => {
    const applied = await applyMigrations(loadConfig().databaseUrl);
    output({ applied }, () => (applied.length ? `applied: ${applied.join(', ')}` : 'the schema is up to date'));
  });

program
  .command('serve')
  .description('run the server (what `npm start` does)')
  .action(async () => {
    const { serve } = await import('../server.js'); // loaded only here: the other commands start faster
    await serve(loadConfig());
  });

userCommands(program);
clientCommands(program);
tokenCommands(program);
keyCommands(program);
auditCommands(program);
importCommands(program);

// `tessera help client create` as well as `tessera help client` (Commander's own takes one name).
program.helpCommand(false);
program
  .command('help [command...]')
  .description('show help for a command')
  .action((names: string[]) => {
    let target = program;
    for (const name of names) {
      const next = target.commands.find((command) => command.name() === name);
      if (!next) return program.error(`error: unknown command '${names.join(' ')}'`);
      target = next;
    }
    target.outputHelp();
  });

function fail(failure: Failure, exitCode = 1): never {
  if (jsonWanted()) process.stdout.write(`${JSON.stringify(failure, null, 2)}\n`);
  else process.stderr.write(`tessera: ${[failure.message, ...(failure.problems ?? []).map((p) => `  ${dumpLine(p)}`)].join('\n')}\n`);
  process.exit(exitCode);
}

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // Help and version exit 0; otherwise Commander has said what is wrong (on stderr, or kept for JSON).
    if (error.exitCode === 0 || !jsonWanted()) process.exit(error.exitCode);
    const message = (usageError.split('\n')[0] ?? error.message).replace(/^error: /, '');
    fail({ error: 'usage', message }, error.exitCode || 1);
  }
  fail(failureOf(error));
}
