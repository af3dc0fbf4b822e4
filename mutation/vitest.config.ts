// The suite's vitest settings, plus the setup file that lets StrykerJS activate static mutants
// before modules load (see activate-static.js), first, before test/setup-node.ts loads the
// crypto backend. Used by stryker.config.json only.
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
  },
})
