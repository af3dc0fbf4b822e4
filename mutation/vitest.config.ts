// The suite's vitest settings, plus the setup file that lets StrykerJS activate static mutants
// before modules load (see activate-static.js), first, before test/setup-node.ts loads the
// crypto backend, and MANDATE_MUTATION=1 for tests that read the sources as text. Used by
// stryker.config.json only.
import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'
import base from '../vitest.config.js'

const setupFiles = base.test?.setupFiles ?? []

export default defineConfig({
  ...base,
  root: fileURLToPath(new URL('..', import.meta.url)),
  test: {
    ...base.test,
    setupFiles: ['mutation/activate-static.js', ...(Array.isArray(setupFiles) ? setupFiles : [setupFiles])],
    // Tests that read the sources as text skip themselves: in Stryker's sandbox the sources are
    // instrumented, so a scan for `new ServiceError(400, 'ERR_…'` finds nothing.
    env: { ...base.test?.env, MANDATE_MUTATION: '1' },
  },
})
