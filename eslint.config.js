// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Module boundaries from docs/00-architecture.md, enforced here rather than remembered. */
const boundaries = [
  {
    files: ['src/core/**/*.ts'],
    message: 'src/core is pure: it imports nothing else from src/.',
    patterns: [
      '**/config/**',
      '**/runtime/**',
      '**/transform/**',
      '**/connectors/**',
      '**/cli/**',
      '**/composer/**',
      '**/embedded/**',
      '**/ui/**',
    ],
  },
  {
    files: ['src/runtime/**/*.ts'],
    message: 'src/runtime never imports a connector; use the registry.',
    patterns: ['**/connectors/**', '**/cli/**', '**/composer/**', '**/embedded/**'],
  },
  {
    files: ['src/transform/**/*.ts'],
    message: 'transform depends on core only (config extends its rule interfaces, not the other way).',
    patterns: ['**/config/**', '**/connectors/**', '**/cli/**', '**/composer/**', '**/runtime/**', '**/embedded/**'],
  },
  {
    files: ['src/config/**/*.ts'],
    message: 'config does not depend on connectors, runtime or the CLI; connectors reach it through the registry.',
    patterns: ['**/connectors/**', '**/cli/**', '**/composer/**', '**/runtime/**', '**/embedded/**'],
  },
  {
    files: ['src/ui/**/*.ts'],
    message: 'the dashboard reads the runtime metrics; it never reaches a connector, the composer or the CLI.',
    patterns: ['**/connectors/**', '**/cli/**', '**/composer/**', '**/embedded/**'],
  },
  {
    files: ['src/connectors/**/*.ts'],
    message:
      'connectors build on the contracts in src/core (connector.ts: contexts, logger, table selectors) and src/formats; the runtime and the config loader reach them through the registry, never the other way.',
    patterns: [
      '**/runtime/**',
      '**/config/**',
      '**/transform/**',
      '**/sql/**',
      '**/composer/**',
      '**/cli/**',
      '**/ui/**',
      '**/embedded/**',
    ],
  },
  {
    files: ['src/composer/**/*.ts', 'src/sql/**/*.ts', 'src/formats/**/*.ts', 'src/index.ts'],
    message: 'the library does not reach the CLI or the embedded test/demo servers (src/embedded: apt-get, initdb).',
    patterns: ['**/cli/**', '**/embedded/**'],
  },
  {
    files: ['src/cli/**/*.ts'],
    message:
      'the embedded servers are demo and test tooling: only the demo loads them, with `await import(…)` (types may be imported).',
    patterns: ['**/embedded/**'],
    allowTypeImports: true,
  },
];

// eslint-disable-next-line no-restricted-syntax -- ESLint reads its configuration from the default export
export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'bench/results/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['eslint.config.js', 'bin/*.js', 'examples/*/*.mjs'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': ['error', { selector: 'ExportDefaultDeclaration', message: 'Use named exports.' }],
    },
  },
  ...boundaries.map((b) => ({
    files: b.files,
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: b.patterns, message: b.message, ...(b.allowTypeImports ? { allowTypeImports: true } : {}) },
          ],
        },
      ],
    },
  })),
  {
    files: ['bin/*.js'],
    languageOptions: { globals: { process: 'readonly' } },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
    },
  },
);
