// tessera audit …
import type { Command } from 'commander';
import { listed, more, output, pageLength, table, withAdmin } from './context.js';

export function auditCommands(program: Command): void {
  const audit = program.command('audit').description('the audit log: every change, by whom');

  audit
    .command('list')
    .description('the audit log, newest first (all of it, or one page with --limit)')
    .option('--limit <n>', 'one page of at most n entries', pageLength)
    .option('--cursor <cursor>', 'start after the page that gave this cursor')
    .action(async (opts: { limit?: number; cursor?: string }) => {
      const page = await withAdmin((admin) => listed((query) => admin.audit.list(query), opts));
      output(page, () =>
        page.items.length === 0
          ? 'no entries'
          : [
              table([
                ['AT', 'ACTOR', 'ACTION', 'TARGET'],
                ...page.items.map((entry) => [entry.at, entry.actor, entry.action, entry.target]),
              ]),
              ...more(page, 'audit list'),
            ].join('\n'),
      );
    });
}
