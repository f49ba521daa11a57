#!/usr/bin/env node
// The `tessera` command: the bundle that `npm ci` (and `npm start`, `npm test`) builds from src/.
import { existsSync } from 'node:fs';

const bundle = new URL('../dist/tessera.mjs', import.meta.url);
if (!existsSync(bundle)) {
  process.stderr.write('tessera: dist/tessera.mjs is missing: run `npm run build` (npm ci does it too)\n');
  process.exit(1);
}
// Stack traces in logs point into src/, not the bundle.
process.setSourceMapsEnabled(true);
await import(bundle.href);
