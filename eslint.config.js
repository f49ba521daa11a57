// ESLint (flat config): `npm run lint`, and one of the checks `npm test` runs before the suites.
// TypeScript files get typescript-eslint's recommended rules plus three type-aware promise rules
// (type information from tsconfig.json through the project service). Plain .mjs/.js files have no
// type information: only the rules that need none apply to them.
import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig(
  globalIgnores(['src/generated/', 'dist/', 'packages/*/dist/', 'node_modules/', 'data/', 'scratch/', '.tap/']),
  {
    files: ['**/*.{ts,mts,cts,js,mjs,cjs}'],
    extends: [js.configs.recommended, tseslint.configs.recommended],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: 'module',
      globals: globals.node,
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // Input validation rejects control characters on purpose (e.g. /[^\x00-\x1f]/ in usernames).
      'no-control-regex': 'off',
      // Unused names: a leading underscore marks an argument or variable kept on purpose.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  {
    files: ['**/*.{ts,mts,cts}'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // tap queues and awaits its subtests itself: `t.test(...)` (and skip, todo, only) need no await.
      '@typescript-eslint/no-floating-promises': [
        'error',
        { allowForKnownSafeCalls: [{ from: 'package', package: '@tapjs/test', name: ['test', 'skip', 'todo', 'only'] }] },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      // Unused parameters and locals are tsc's job here (noUnusedParameters, noUnusedLocals in
      // tsconfig.json; tsc skips names that start with `_`): the lint rule checks no arguments.
      '@typescript-eslint/no-unused-vars': ['error', { args: 'none', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  {
    // No type information for plain JavaScript: make sure no type-aware rule runs on it.
    files: ['**/*.{js,mjs,cjs}'],
    extends: [tseslint.configs.disableTypeChecked],
  },
  {
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
