// tessera import …
import { readFileSync, statSync } from 'node:fs';
import type { Command } from 'commander';
import type { DjangoImportView } from '../admin/api.js';
import { MAX_DUMP_BYTES } from '../domain/django-import.js';
import { AdminError } from '../domain/errors.js';
import { output, withAdmin } from './context.js';
import { dumpLine } from './errors.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The dump's text, refused before it is read when it is too large. */
function readDump(file: string): string {
  try {
    if (statSync(file).size > MAX_DUMP_BYTES) throw new AdminError(`${file} is larger than ${MAX_DUMP_BYTES / 1024 / 1024} MiB`);
    return utf8.decode(readFileSync(file));
  } catch (error) {
    if (error instanceof AdminError) throw error;
    if (error instanceof TypeError) throw new AdminError(`${file} is not UTF-8 text`);
    const code = (error as { code?: unknown }).code;
    throw new AdminError(`cannot read ${file}${code === 'ENOENT' ? ': no such file' : code === 'EISDIR' ? ': a directory' : ''}`);
  }
}

function summary(file: string, report: DjangoImportView): string {
  const count = (name: string, { created, unchanged }: DjangoImportView['users']) =>
    `  ${name.padEnd(8)} ${created} ${report.dry_run ? 'to create' : 'created'}, ${unchanged} unchanged`;
  return [
    report.dry_run ? `${file}: dry run, nothing was written` : `${file}: imported`,
    count('users', report.users),
    count('tokens', report.tokens),
    count('clients', report.clients),
    ...(report.clients_to_rotate.length > 0
      ? ['Their secret was hashed, so these clients authenticate only after `tessera client rotate-secret <id>`:']
      : []),
    ...report.clients_to_rotate.map((id) => `  ${id}`),
    ...(report.warnings.length > 0 ? ['Warnings:'] : []),
    ...report.warnings.map((warning) => `  ${dumpLine(warning)}`),
  ].join('\n');
}

export function importCommands(program: Command): void {
  const imports = program.command('import').description('bring users, tokens and clients over from another system');

  imports
    .command('django <dump>')
    .description(
      'bring users (with their password hashes), DRF tokens and django-oauth-toolkit applications over from the JSON of ' +
        '`manage.py dumpdata auth.user authtoken.token oauth2_provider.application`, in one transaction; importing again changes nothing',
    )
    .option('--token-client <client_id>', 'the client the DRF tokens become access tokens of (needed when the dump holds tokens)')
    .option('--dry-run', 'check the whole dump and say what it would do, writing nothing')
    .action(async (file: string, opts: { tokenClient?: string; dryRun?: boolean }) => {
      const dump = readDump(file);
      const report = await withAdmin((admin) =>
        admin.imports.django({
          dump,
          ...(opts.tokenClient !== undefined && { token_client: opts.tokenClient }),
          dry_run: opts.dryRun === true,
        }),
      );
      output(report, () => summary(file, report));
    });
}
