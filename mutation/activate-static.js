// Loaded as a vitest setup file under StrykerJS only (mutation/vitest.config.ts).
//
// StrykerJS 9.6.1 activates a mutant "at runtime" (in a beforeAll hook) whenever the run has a
// test filter, which `testFiles` always gives, even for a static mutant: one in code that runs
// while a module loads (a constant such as `KINDS = ['revoke', 'suspend', 'resume']`). By then
// the module has loaded unmutated, so the mutant is reported Survived whatever the tests do
// (stryker-mutator/stryker-js#6144). Setup files run before the test file imports anything, so
// activating the mutant here, at top level, lets module-level code see it. For a mutant outside
// module-level code this changes nothing: it is active during its tests either way.
import { inject } from 'vitest'

if (inject('mode') === 'mutant') {
  const name = inject('globalNamespace')
  globalThis[name] ??= {}
  globalThis[name].activeMutant = inject('activeMutant')
}
