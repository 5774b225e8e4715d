import { configDefaults, defineConfig } from 'vitest/config';

// eslint-disable-next-line no-restricted-syntax -- Vitest reads its configuration from the default export.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts', 'src/**/*.test.ts'],
          exclude: [...configDefaults.exclude, '**/*.int.test.ts'],
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/**/*.int.test.ts'],
          // Starts a private MariaDB and PostgreSQL once per run, unless TRIBUTARY_TEST_*_URL name existing ones.
          globalSetup: ['test/harness/global-setup.ts'],
          // Give-up bounds, not expectations: on a loaded 2-core machine a fault test can take minutes.
          testTimeout: 300_000,
          hookTimeout: 120_000,
          // One test file at a time: the servers and a 2-core machine are shared by all of them.
          fileParallelism: false,
        },
      },
    ],
  },
});
