// Writes one schema.prisma per dialect from prisma/models.prisma and generates both Prisma
// clients into src/generated/. Runs on `npm ci` (postinstall), offline: the generator needs no
// native engine, so PRISMA_SCHEMA_ENGINE_BINARY points at a dummy to stop a download attempt.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const models = readFileSync(join(root, 'prisma/models.prisma'), 'utf8');

for (const dialect of ['sqlite', 'postgresql']) {
  const header = `// GENERATED from prisma/models.prisma by scripts/prisma-generate.mjs: do not edit.

generator client {
  provider     = "prisma-client"
  output       = "../../src/generated/${dialect}"
  moduleFormat = "esm"
}

datasource db {
  provider = "${dialect}"
}
`;
  const dir = join(root, 'prisma', dialect);
  mkdirSync(dir, { recursive: true });
  const schemaPath = join(dir, 'schema.prisma');
  writeFileSync(schemaPath, `${header}\n${models}`);
  execFileSync(join(root, 'node_modules/.bin/prisma'), ['generate', '--schema', schemaPath], {
    cwd: root,
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, PRISMA_SCHEMA_ENGINE_BINARY: '/bin/false', PRISMA_HIDE_UPDATE_MESSAGE: '1' },
  });
}
console.log('prisma: generated clients for sqlite and postgresql');
