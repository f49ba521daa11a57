// Bundles the server and admin command into dist/tessera.mjs with esbuild (dependencies stay
// external). Running plain JavaScript saves the on-the-fly TypeScript compiler's start-up time and
// memory (~35 MB) in production. Runs on `npm ci` (postinstall), `npm start` and `npm test`.
// It also builds the resource-server kit (packages/verify) when its source has changed, so that
// `@tessera/verify` is importable from the project root after `npm ci`.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import { buildVerifyKit } from '../packages/verify/scripts/build.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
await build({
  absWorkingDir: root,
  entryPoints: ['src/cli/main.ts'],
  outfile: 'dist/tessera.mjs',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  packages: 'external',
  sourcemap: true,
  logLevel: 'warning',
});
buildVerifyKit({ optional: true });
