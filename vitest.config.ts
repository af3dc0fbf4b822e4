import { defineConfig } from 'vitest/config'

// .ci/run asks for a JSON report too, to print a plain closing line.
const json = process.env['VITEST_JSON_REPORT']

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/setup-node.ts'],
    // Every scratch file of the run goes under one directory, removed at the end (see the file).
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    reporters: json ? ['default', 'json'] : ['default'],
    ...(json ? { outputFile: { json } } : {}),
  },
})
