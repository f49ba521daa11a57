// Builds @tessera/verify: src/ compiled by tsc into dist/ (ES modules and .d.ts), from an empty dist/
// so that the output of a removed module does not linger. Skipped while dist/ is newer than every
// source: the project root's build (scripts/build.mjs) runs this on every `npm ci`, `npm start` and
// `npm test`, and `npm pack` (prepack) during a test run must not rewrite files other tests import.
import { spawnSync } from 'node:child_process';
import { readdirSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const kit = fileURLToPath(new URL('..', import.meta.url));
const stamp = join(kit, 'dist', 'index.js');
const sources = () => [
  join(kit, 'package.json'),
  join(kit, 'tsconfig.json'),
  ...readdirSync(join(kit, 'src'), { recursive: true }).map((file) => join(kit, 'src', String(file))),
];

function upToDate() {
  let built;
  try {
    built = statSync(stamp).mtimeMs;
  } catch {
    return false;
  }
  return sources().every((file) => statSync(file).mtimeMs <= built);
}

/**
 * `optional`: a production install (`npm ci --omit=dev`, as the container image does) has no
 * TypeScript, and no use for the kit: it is left unbuilt, with a note.
 */
export function buildVerifyKit({ optional = false } = {}) {
  if (upToDate()) return;
  let tsc;
  try {
    tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  } catch (error) {
    if (!optional) throw error;
    console.log('@tessera/verify not built: TypeScript is not installed (a production install)');
    return;
  }
  rmSync(join(kit, 'dist'), { recursive: true, force: true });
  const { status } = spawnSync(process.execPath, [tsc, '-p', join(kit, 'tsconfig.json')], { stdio: 'inherit' });
  if (status !== 0) {
    rmSync(join(kit, 'dist'), { recursive: true, force: true });
    throw new Error(`@tessera/verify: tsc failed (exit ${status})`);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) buildVerifyKit();
