// Dependency rules for src/: `npm run deps:check` (one of the checks `npm test` runs before the suites).
// The layers, from the bottom up:
//   base modules   src/config.ts, src/logger.ts, src/metrics.ts, src/secret.ts, src/records.ts
//   store          src/store/ (and the generated Prisma clients in src/generated/)
//   tokens         src/tokens/
//   domain         src/domain/
//   oauth          src/oauth/
//   admin          src/admin/ (the admin operations: the admin API and the admin command use them)
//   http           src/http/
//   composition    src/tessera.ts, src/app.ts, src/server.ts, src/cli/
// Only the rules below are enforced. They go by folder, so they hold for files added or moved
// later. Type-only imports (`import type`) count like any other: the cruise reads the TypeScript
// source before compilation.
const BASE = '^src/(config|logger|metrics|secret|records)[.]ts$';
const COMPOSITION_ROOT = ['^src/(tessera|app|server)[.]ts$', '^src/cli/'];

/** A forbidden import: from the files matching `from` to those matching `to` (minus `toNot`). */
const forbid = (name, comment, from, to, toNot) => ({
  name,
  severity: 'error',
  comment,
  from: { path: from },
  to: toNot ? { path: to, pathNot: toNot } : { path: to },
});

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'An import circle inside src/ (type-only imports included): break it, e.g. by moving the shared types down a layer.',
      from: { path: '^src/' },
      to: { path: '^src/', circular: true },
    },
    forbid(
      'http-not-to-store',
      'src/http/ must not import src/store/: go through the domain, tokens or oauth layers (record types live in src/records.ts).',
      '^src/http/',
      '^src/store/',
    ),
    forbid(
      'store-only-to-base',
      'src/store/ may import only src/store/, src/config.ts, src/records.ts and src/generated/ from src/.',
      '^src/store/',
      '^src/',
      ['^src/store/', '^src/config[.]ts$', '^src/records[.]ts$', '^src/generated/'],
    ),
    forbid(
      'not-to-composition-root',
      'The layers must not import the composition root (src/tessera.ts, src/app.ts, src/server.ts, src/cli/): it imports them.',
      '^src/(domain|tokens|oauth|store|http|admin)/',
      COMPOSITION_ROOT,
    ),
    forbid(
      'tokens-not-up',
      'src/tokens/ must not import src/domain/, src/oauth/ or src/http/.',
      '^src/tokens/',
      '^src/(domain|oauth|admin|http)/',
    ),
    forbid('domain-not-up', 'src/domain/ must not import src/oauth/, src/admin/ or src/http/.', '^src/domain/', '^src/(oauth|admin|http)/'),
    forbid('oauth-not-up', 'src/oauth/ must not import src/admin/ or src/http/.', '^src/oauth/', '^src/(admin|http)/'),
    forbid('admin-not-up', 'src/admin/ must not import src/http/.', '^src/admin/', '^src/http/'),
    forbid('admin-not-to-store', 'src/admin/ goes through the domain and token services, never the store.', '^src/admin/', '^src/store/'),
    forbid('oauth-not-to-store', 'src/oauth/ goes through the token and domain services, never the store.', '^src/oauth/', '^src/store/'),
    forbid(
      'prisma-only-in-store',
      'Only src/store/ may use the generated Prisma clients: nothing above it knows Prisma.',
      '^src/(?!store/|generated/)',
      '^src/generated/',
    ),
    forbid(
      'base-only-to-base',
      'The base modules (config, logger, metrics, secret, records) may import nothing in src/ but each other.',
      BASE,
      '^src/',
      BASE,
    ),
    {
      // Sanity: a file in src/ that imports nothing and nothing imports is dead (or misplaced).
      name: 'no-orphans',
      severity: 'error',
      comment: 'This file imports nothing and nothing imports it: remove it, or wire it in.',
      from: { orphan: true, path: '^src/', pathNot: ['^src/generated/', '[.]d[.]ts$'] },
      to: {},
    },
    {
      // Sanity: an import the cruise cannot resolve would slip past every rule above.
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'This import cannot be resolved (a missing file, or a package not in package.json).',
      from: { path: '^src/' },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    // Type-only imports are dependencies too (the cruise reads the source before TypeScript drops them).
    tsPreCompilationDeps: true,
    // The project's tsconfig; a `.js` specifier resolves to the `.ts` file beside it.
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: ['node_modules', '^src/generated/'] },
    exclude: { path: ['[.]d[.]ts$'] },
    moduleSystems: ['es6', 'cjs'],
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
    skipAnalysisNotInRules: true,
    reporterOptions: { text: { highlightFocused: true } },
  },
};
