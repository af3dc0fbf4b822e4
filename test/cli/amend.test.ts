/**
 * `mandate amend`: tighten a delegation already handed on, from the terminal, against a running
 * service (the real binary and `mandate serve`), and lift it again.
 */
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mandate, scratch } from '../helpers/cli.js'
import { type RunningServer, startServer } from '../helpers/service.js'

let server: RunningServer
let dir: string
let env: Record<string, string>
const key = (n: string) => join(dir, `${n}.pem`)
let alice: string
let assistant: string

beforeAll(async () => {
  dir = scratch()
  alice = mandate(['keygen', '-o', key('alice')]).stdout.trim()
  assistant = mandate(['keygen', '-o', key('assistant')]).stdout.trim()
  mandate(['keygen', '-o', key('stranger')])
  const calendar = mandate(['keygen', '-o', key('calendar')]).stdout.trim()
  server = await startServer({ roots: [`alice=${alice}`], verifiers: [`calendar=${calendar}`] })
  env = {
    MANDATE_SERVICE: server.url,
    MANDATE_SERVICE_KEY: server.serviceKey,
    MANDATE_ROOTS: `alice=${alice}`,
    MANDATE_AUDIENCE: 'calendar',
    MANDATE_VERIFIER_KEY: key('calendar'),
  }
})
afterAll(async () => {
  await server?.stop()
})

const grant = () =>
  mandate([
    'mint',
    '--key',
    key('alice'),
    '--to',
    assistant,
    '--name',
    'assistant',
    '--action',
    'calendar:*',
    '--expires',
    '1h',
  ]).stdout.trim()
const schedule = (g: string) =>
  mandate(['invoke', '--key', key('assistant'), '--action', 'calendar:schedule', '--audience', 'calendar'], { input: g }).stdout
const verify = (inv: string) => mandate(['verify', '--json'], { input: inv, env })

describe('mandate amend', () => {
  it('amends a live grant mid-session: the next request is denied naming the amendment; lifting it restores the grant', () => {
    const g = grant()
    expect(verify(schedule(g)).code).toBe(0)

    const amended = mandate(
      ['amend', '--key', key('alice'), '--approval', 'calendar:schedule', '--uses', '5', '--reason', 'ask me before scheduling'],
      { input: g, env },
    )
    expect(amended.code).toBe(0)
    const id = amended.stdout.trim()
    expect(id).toMatch(/^[0-9a-f]{64}$/)

    const denied = verify(schedule(g))
    expect(denied.code).toBe(1)
    const d = denied.json<{ code: string; block: number; caveat: string; amendment: { id: string; by: string; reason: string } }>()
    expect([d.code, d.block, d.caveat]).toEqual(['ERR_APPROVAL_REQUIRED', 0, 'approval'])
    expect(d.amendment).toMatchObject({ id, by: alice, reason: 'ask me before scheduling' })
    // The terminal says who amended it, why, and which amendment.
    const human = mandate(['verify'], { input: schedule(g), env })
    expect(human.stdout).toContain(`amended    by ${alice}`)
    expect(human.stdout).toContain(`ask me before scheduling (id ${id})`)
    // The approver reading the request sees the amendment that asks for the approval.
    const requestId = mandate(['approvals', 'request'], { input: schedule(g), env }).stdout.trim()
    expect(requestId).toMatch(/^[0-9a-f]{64}$/)
    const shownToAlice = mandate(['approvals', 'show', requestId, '--key', key('alice')], { env })
    expect(shownToAlice.code).toBe(0)
    expect(shownToAlice.stdout).toMatch(new RegExp(`amended +assistant by ${alice} \\([^)]+\\): ask me before scheduling — `))
    // Other actions of the grant are untouched.
    const read = mandate(['invoke', '--key', key('assistant'), '--action', 'calendar:read', '--audience', 'calendar'], { input: g }).stdout
    expect(verify(read).code).toBe(0)

    // Only the signer or a key above it lifts it: the assistant cannot shed it.
    const shed = mandate(['amend', '--key', key('assistant'), '--lift', id, '--reason', 'no', '--json'], { input: g, env })
    expect(shed.code).toBe(1)
    expect(shed.json<{ error: { code: string; message: string } }>().error).toMatchObject({
      code: 'ERR_NOT_AUTHORIZED',
      message: expect.stringContaining('ERR_NOT_AUTHORIZED, HTTP 403'),
    })
    const lifted = mandate(['amend', '--key', key('alice'), '--lift', id, '--reason', 'the trip is booked', '--json'], { input: g, env })
    expect(lifted.code).toBe(0)
    expect(lifted.json<{ id: string; kind: string; lifts: string; created: boolean }>()).toMatchObject({
      kind: 'lift',
      lifts: id,
      created: true,
    })
    expect(verify(schedule(g)).code).toBe(0)
    // Lifting it again: nothing in force to lift (a conflict, exit 2 as every 4xx but 401/403).
    const again = mandate(['amend', '--key', key('alice'), '--lift', id, '--reason', 'twice', '--json'], { input: g, env })
    expect(again.code).toBe(2)
    expect(again.json<{ error: { code: string; message: string } }>().error).toMatchObject({
      code: 'ERR_CONFLICT',
      message: expect.stringContaining('ERR_CONFLICT, HTTP 409'),
    })
    // On a terminal the code is said once.
    const twiceHuman = mandate(['amend', '--key', key('alice'), '--lift', id, '--reason', 'twice'], { input: g, env })
    expect(twiceHuman.stderr.match(/ERR_CONFLICT/g)).toHaveLength(1)
  })

  it('offline, prints the signed statement; inspect shows what it adds, in words', () => {
    const offline = mandate(
      ['amend', '--key', key('alice'), '--expires', '10m', '--deny', 'calendar:delete', '--reason', 'winding down', '--json'],
      {
        input: grant(),
      },
    )
    expect(offline.code).toBe(0)
    const j = offline.json<{ statement: string; kind: string; block: number; caveats: string[]; signer: string }>()
    expect([j.kind, j.block, j.signer]).toEqual(['amend', 0, alice])
    expect(j.statement).toMatch(/^mnr1_/)
    expect(j.caveats).toHaveLength(2)
    // Not submitted, and it says so (a script must not take the statement for an amendment id).
    const human = mandate(['amend', '--key', key('alice'), '--uses', '3', '--reason', 'r'], { input: grant() })
    expect(human.stdout).toMatch(/^mnr1_/)
    expect(human.stderr).toContain('not submitted (no --service, no MANDATE_SERVICE)')
    // inspect, on a terminal, says what it adds.
    const shown = mandate(['inspect'], { input: j.statement })
    expect(shown.stdout).toMatch(/effect +amend block 0/)
    expect(shown.stdout).toContain('adds       ')
    expect(shown.stdout).toContain('reason     winding down')
    const view = mandate(['inspect', '--json'], { input: j.statement })
    expect(view.code).toBe(0)
    expect(view.json<{ effect: string; caveats: { type: string; text: string }[] }>()).toMatchObject({
      effect: 'amend',
      caveats: [{ type: 'deny' }, { type: 'window' }],
    })
  })

  it('refuses what cannot be an amendment (exit 2): misuse, and a key that signed no block at or above it', () => {
    const g = grant()
    const cases: [string[], string][] = [
      [['amend', '--key', key('alice'), '--reason', 'r'], 'nothing to add'],
      [['amend', '--key', key('alice'), '--approval', 'calendar:*'], '--reason is required'],
      [['amend', '--key', key('alice'), '--approval', 'calendar:*', '--reason', '  '], '--reason is required'],
      [['amend', '--key', key('alice'), '--lift', 'abc', '--reason', 'r'], '--lift: expected an amendment id'],
      [['amend', '--key', key('alice'), '--lift', 'a'.repeat(64), '--uses', '1', '--reason', 'r'], '--lift takes no caveat flags'],
      [['amend', '--key', key('alice'), '--block', '3', '--uses', '1', '--reason', 'r'], '--block: expected 0..0'],
      [['amend', '--key', key('alice'), '--uses', '0', '--reason', 'r'], '--uses: expected 1..'],
      [['amend', '--key', key('alice'), '--uses', '1', '--reason', 'x'.repeat(1025)], '--reason: at most 1024 bytes'],
    ]
    for (const [args, message] of cases) {
      const r = mandate(args, { input: g })
      expect([args.join(' '), r.code]).toEqual([args.join(' '), 2])
      expect(r.stderr).toContain(message)
    }
    // A stranger's key signed no block of the grant: refused before anything is sent.
    const stranger = mandate(['amend', '--key', key('stranger'), '--uses', '1', '--reason', 'mine now', '--json'], { input: g, env })
    expect(stranger.code).toBe(2)
    expect(stranger.json<{ error: { code: string; hint: string } }>().error).toMatchObject({
      code: 'ERR_HOLDER_MISMATCH',
      hint: 'amend with the principal key or the key of a holder at or above the target',
    })
    // An action list that shares nothing with the block's: allowed (it only narrows), but said.
    const narrowed = mandate(['amend', '--key', key('alice'), '--action', 'email:*', '--reason', 'r'], { input: g })
    expect(narrowed.code).toBe(0)
    expect(narrowed.stderr).toMatch(/warning: caveat 1 \(actions\): email:\*/)
  })
})
