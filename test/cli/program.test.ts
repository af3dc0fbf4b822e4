/**
 * The program a run builds (src/cli/main.ts): a line naming a command builds only that
 * command; anything else (help, version, an unknown or no command, completion) the whole
 * program. The map from names to registrars must say what each registers.
 */
import { describe, expect, it } from 'vitest'
import type { Context } from '../../src/cli/context.js'
import { buildProgram, REGISTRAR_OF } from '../../src/cli/main.js'

const ctx = (): Context => ({ io: { out: () => {}, err: () => {} } as unknown as Context['io'], exit: 0 })
const names = (argv?: readonly string[]) =>
  buildProgram(ctx(), argv)
    .commands.flatMap((c) => [c.name(), ...c.aliases()])
    .sort()

describe('the program a run builds', () => {
  it('every top-level name is mapped to the registrar that registers it, and only completion is not', () => {
    const all = names()
    expect([...REGISTRAR_OF.keys(), 'completion'].sort()).toEqual(all)
    for (const [name, registrar] of REGISTRAR_OF) {
      const mine = [...REGISTRAR_OF].filter(([, r]) => r === registrar).map(([n]) => n)
      expect(names([name]), name).toEqual(mine.sort())
    }
  })

  it('past the program’s own options, the named command alone; help, version, unknown, none and completion: all', () => {
    expect(names(['verify', 'token.txt', '--action', 'x'])).toEqual(['verify'])
    expect(names(['--json', '--timeout', '5', 'approve', 'ID'])).toEqual(['approve', 'invoke'])
    expect(names(['--timeout=5', 'keygen'])).toEqual(['keygen', 'pubkey'])
    const all = names()
    for (const argv of [[], ['-h', 'verify'], ['--version'], ['help', 'verify'], ['verfy'], ['completion', 'bash'], ['--timeout']]) {
      expect(names(argv), argv.join(' ')).toEqual(all)
    }
  })
})
