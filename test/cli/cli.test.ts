/**
 * The CLI as a person uses it: the real binary, every command, exit codes, --json shapes,
 * stdin piping and bad input.
 */
import { spawn, spawnSync } from 'node:child_process'
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { encodeCbor } from '../../src/cbor/codec.js'
import { parseInvocation } from '../../src/index.js'
import { concatBytes } from '../../src/internal/bytes.js'
import { toText } from '../../src/token/text.js'
import { BIN, mandate, scratch } from '../helpers/cli.js'

const hasScript = spawnSync('script', ['--version']).status === 0
let dir: string
let alice: string
let assistant: string
const key = (name: string) => join(dir, `${name}.pem`)

beforeAll(() => {
  dir = scratch()
  alice = mandate(['keygen', '-o', key('alice')]).stdout.trim()
  assistant = mandate(['keygen', '-o', key('assistant')]).stdout.trim()
  mandate(['keygen', '-o', key('bob')])
})

function grant(extra: string[] = []): string {
  const r = mandate([
    'mint',
    '--key',
    key('alice'),
    '--to',
    assistant,
    '--name',
    'assistant',
    '--action',
    'email:*',
    '--action',
    'slack:*',
    '--deny',
    'email:send',
    '--approval',
    'email:draft',
    '--expires',
    '8h',
    ...extra,
  ])
  expect(r.code, r.stderr).toBe(0)
  return r.stdout.trim()
}

/** The assistant's invocation of `action` under grant(), addressed to mail, with `extra` flags (--arg …). */
function invokeAs(action: string, extra: string[] = []) {
  return mandate(['invoke', '--key', key('assistant'), '--action', action, ...extra, '--audience', 'mail'], { input: grant() })
}

describe('keygen and pubkey', () => {
  it('writes a 0600 PKCS#8 key, prints its did:key, and refuses to overwrite', () => {
    expect(alice).toMatch(/^did:key:z6Mk[1-9A-HJ-NP-Za-km-z]+$/)
    expect(statSync(key('alice')).mode & 0o777).toBe(0o600)
    expect(readFileSync(key('alice'), 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----\n/)
    const again = mandate(['keygen', '-o', key('alice')])
    expect(again.code).toBe(2)
    expect(again.stderr).toContain('already exists')
    expect(again.stderr).toContain('--force')
    const forced = mandate(['keygen', '-o', join(dir, 'tmp.pem')])
    expect(mandate(['keygen', '-o', join(dir, 'tmp.pem'), '--force']).code).toBe(0)
    expect(forced.code).toBe(0)
  })

  it('keygen without -o is a usage error and prints no secret', () => {
    const r = mandate(['keygen'])
    expect(r.code).toBe(2)
    expect(r.stdout).toBe('')
  })

  it('pubkey prints did, hex and pem; --json has all three', () => {
    expect(mandate(['pubkey', key('alice')]).stdout.trim()).toBe(alice)
    expect(mandate(['pubkey', key('alice'), '--format', 'hex']).stdout.trim()).toMatch(/^[0-9a-f]{64}$/)
    expect(mandate(['pubkey', key('alice'), '--format', 'pem']).stdout).toContain('BEGIN PUBLIC KEY')
    const j = mandate(['pubkey', key('alice'), '--json']).json<{ did: string; hex: string; pem: string }>()
    expect(j.did).toBe(alice)
    expect(mandate(['pubkey', key('alice'), '--format', 'ssh']).code).toBe(2)
    expect(mandate(['pubkey'], { env: { MANDATE_KEY: key('alice') } }).stdout.trim()).toBe(alice)
  })

  it('an unreadable key file is an operational failure (exit 3); a garbage one is malformed (exit 2)', () => {
    const missing = mandate(['pubkey', join(dir, 'nope.pem')])
    expect(missing.code).toBe(3)
    expect(missing.stderr).toContain('no such file')
    writeFileSync(join(dir, 'garbage.pem'), 'hello', { mode: 0o600 })
    const garbage = mandate(['pubkey', join(dir, 'garbage.pem'), '--json'])
    expect(garbage.code).toBe(2)
    expect(garbage.json()).toEqual({ error: { code: 'ERR_KEY_FORMAT', message: expect.any(String), hint: expect.any(String) } })
  })

  it('warns when a key file is readable by others', () => {
    const open = join(dir, 'open.pem')
    writeFileSync(open, readFileSync(key('bob')))
    chmodSync(open, 0o644)
    const r = mandate(['pubkey', open])
    expect(r.code).toBe(0)
    expect(r.stderr).toContain('readable by others (mode 0644)')
    expect(r.stderr).toContain(`chmod 600 ${open}`)
    expect(r.stderr).not.toContain('PRIVATE KEY')
  })
})

describe('mint, attenuate, seal', () => {
  it('mint prints a mandate; --json gives its block id and holder', () => {
    expect(grant()).toMatch(/^mnd1_[A-Za-z0-9_-]+$/)
    const j = mandate(['mint', '--key', key('alice'), '--to', assistant, '--action', 'email:read', '--expires', '1h', '--json']).json<
      Record<string, unknown>
    >()
    expect(j).toMatchObject({
      mandate: expect.stringMatching(/^mnd1_/),
      blockId: expect.stringMatching(/^[0-9a-f]{64}$/),
      holder: assistant,
      proof: 'bound',
    })
  })

  it('mint without --expires, with a bad caveat, or an unknown flag is a usage error', () => {
    const noExpiry = mandate(['mint', '--key', key('alice'), '--action', 'x'])
    expect(noExpiry.code).toBe(2)
    expect(noExpiry.stderr).toContain('--expires')
    const badWhere = mandate(['mint', '--key', key('alice'), '--action', 'x', '--expires', '1h', '--where', 'amount lol 5'])
    expect(badWhere.code).toBe(2)
    expect(badWhere.stderr).toContain("'PATH OP VALUE'")
    expect(mandate(['mint', '--key', key('alice'), '--action', 'x', '--expires', 'soon']).code).toBe(2)
    expect(mandate(['mint', '--key', key('alice'), '--action', 'x', '--expires', '1h', '--frobnicate']).code).toBe(2)
    expect(mandate(['mint', '--key', key('alice'), '--action', 'x', '--expires', '1h', '--per', '1h']).code).toBe(2)
  })

  it('a --where list with an empty item or an unclosed JSON list, an argument given twice: usage errors, nothing dropped', () => {
    const where = (rule: string) => mandate(['mint', '--key', key('alice'), '--action', 'x', '--expires', '1h', '--where', rule, '--json'])
    for (const rule of ['to in a@x.org,', 'to in ,a@x.org', 'to not_in a,,b', 'n in [1,', 'to in [a,b]']) {
      const r = where(rule)
      expect([rule, r.code, r.json<{ error: { message: string } }>().error.message]).toEqual([
        rule,
        2,
        `--where: ${JSON.stringify(rule.split(' ').slice(2).join(' '))} is no list: an item is empty, or the JSON list does not parse`,
      ])
    }
    for (const rule of ['to in a@x.org,b@x.org', 'n in [1,2]', 'to in a@x.org']) expect([rule, where(rule).code]).toEqual([rule, 0])
    const twice = (flags: string[]) => invokeAs('email:read', [...flags, '--json'])
    for (const flags of [
      ['--arg', 'a=1', '--arg', 'a=2'],
      ['--args-json', '{"a":1}', '--arg', 'a=2'],
    ]) {
      const r = twice(flags)
      expect([r.code, r.json<{ error: { message: string } }>().error.message]).toEqual([2, '--arg: "a" is given twice'])
    }
  })

  it('MANDATE_KEY is used, and --key beats it', () => {
    const viaEnv = mandate(['mint', '--to', assistant, '--action', 'x', '--expires', '1h', '--json'], {
      env: { MANDATE_KEY: key('alice') },
    })
    expect(mandate(['inspect', '--json', viaEnv.json<{ mandate: string }>().mandate]).json<{ principal: string }>().principal).toBe(alice)
    const flagWins = mandate(['mint', '--key', key('bob'), '--action', 'x', '--expires', '1h', '--json'], {
      env: { MANDATE_KEY: key('alice') },
    })
    expect(mandate(['inspect', '--json', flagWins.json<{ mandate: string }>().mandate]).json<{ principal: string }>().principal).not.toBe(
      alice,
    )
  })

  it('attenuate reads stdin, needs the holder key for a bound mandate, and warns about no-ops', () => {
    const g = grant()
    const noKey = mandate(['attenuate', '-', '--action', 'slack:read'], { input: g })
    expect(noKey.code).toBe(2)
    const wrongKey = mandate(['attenuate', '--key', key('bob'), '--action', 'slack:read'], { input: g })
    expect(wrongKey.code).toBe(2)
    expect(wrongKey.stderr).toContain('ERR_HOLDER_MISMATCH')
    const r = mandate(
      [
        'attenuate',
        '--key',
        key('assistant'),
        '--action',
        'slack:read',
        '--action',
        'calendar:read',
        '--uses',
        '3',
        '--expires',
        '30d',
        '--name',
        'sub',
      ],
      {
        input: g,
      },
    )
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/^mnd1_/)
    expect(r.stderr).toContain('calendar:read is not (entirely) allowed by block 0')
    expect(r.stderr).toContain('the earlier expiry applies')
    const j = mandate(['attenuate', '--key', key('assistant'), '--action', 'calendar:read', '--json'], { input: g }).json<{
      warnings: string[]
    }>()
    expect(j.warnings).toHaveLength(1)
  })

  it('seal makes a bearer mandate non-attenuable', () => {
    const bearer = mandate(['attenuate', '--key', key('assistant'), '--action', 'slack:read'], { input: grant() }).stdout.trim()
    const sealed = mandate(['seal'], { input: bearer })
    expect(sealed.code).toBe(0)
    expect(mandate(['inspect', '--json', sealed.stdout.trim()]).json<{ proof: string }>().proof).toBe('sealed')
    const again = mandate(['attenuate', '--json'], { input: sealed.stdout })
    expect(again.code).toBe(2)
    expect(again.json<{ error: { code: string } }>().error.code).toBe('ERR_SEALED')
    // only a bearer mandate can be sealed (spec §3): the grant is bound to the assistant; asking
    // is an input mistake (exit 2), with the library's code and hint
    const bound = mandate(['seal', '--json'], { input: grant() })
    expect(bound.code).toBe(2)
    expect(bound.json<{ error: { code: string; hint: string } }>().error).toMatchObject({
      code: 'ERR_PROOF',
      hint: expect.stringContaining('attenuate it to a bearer child'),
    })
  })

  it('a --key given with a bearer mandate is not used, and the command says so (invoke, attenuate)', () => {
    const bearer = mandate(['attenuate', '--key', key('assistant'), '--action', 'slack:*'], { input: grant() }).stdout.trim()
    const said = '--key is not used: this is a bearer mandate, and the secret it carries signs as its holder'
    const invoke = ['invoke', '--action', 'slack:read', '--audience', 'slack']
    const inv = mandate([...invoke, '--key', key('assistant')], { input: bearer })
    expect([inv.code, inv.stderr]).toEqual([0, `mandate: warning: ${said}\n`])
    // Signed by the bearer secret, as without --key: a verifier allows it.
    const allowed = mandate(['verify', '--root', `alice=${alice}`, '--audience', 'slack', '--json'], { input: inv.stdout })
    expect([allowed.code, allowed.json<{ allowed: boolean }>().allowed]).toEqual([0, true])
    const json = mandate([...invoke, '--key', key('assistant'), '--json'], { input: bearer }).json<{ warnings: string[] }>()
    expect(json.warnings).toEqual([said])
    const quiet = mandate(invoke, { input: bearer })
    expect([quiet.code, quiet.stderr]).toEqual([0, ''])
    expect(mandate([...invoke, '--json'], { input: bearer }).json<{ warnings: string[] }>().warnings).toEqual([])
    const child = mandate(['attenuate', '--key', key('assistant'), '--action', 'slack:read', '--json'], { input: bearer })
    expect([child.code, child.json<{ warnings: string[] }>().warnings]).toEqual([0, [said]])
  })
})

describe('inspect', () => {
  it('draws the chain in plain words, marked unverified', () => {
    const r = mandate(['inspect'], { input: grant() })
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('UNVERIFIED')
    expect(r.stdout).toContain(`principal  ${alice}`)
    expect(r.stdout).toContain('never email:send')
    expect(r.stdout).toContain('email:draft needs approval by 1 of')
    expect(r.stdout).toContain('holder   assistant')
  })

  it('--json is the inspection object', () => {
    const j = mandate(['inspect', '--json', grant()]).json<{ kind: string; verified: boolean; blocks: unknown[] }>()
    expect([j.kind, j.verified, j.blocks.length]).toEqual(['mandate', false, 1])
  })

  it('garbage and truncated tokens are malformed input (exit 2) with a typed code', () => {
    const garbage = mandate(['inspect', '--json', 'mnd1_!!!'])
    expect(garbage.code).toBe(2)
    expect(garbage.json<{ error: { code: string } }>().error.code).toBe('ERR_TEXT_FORMAT')
    const g = grant()
    const truncated = mandate(['inspect', '--json', g.slice(0, g.length - 20)])
    expect(truncated.code).toBe(2)
    expect(truncated.json<{ error: { code: string } }>().error.code).toMatch(/^ERR_(CBOR_MALFORMED|TEXT_FORMAT)$/)
    expect(mandate(['inspect', 'hello']).code).toBe(2)
    expect(mandate(['inspect'], { input: '' }).code).toBe(2)
  })
})

describe('invoke, approve, verify', () => {
  const roots = () => ['--root', `alice=${alice}`, '--audience', 'mail']

  it('a bound holder invokes and a service verifies it (exit 0), with the chain', () => {
    const inv = mandate(['invoke', '--key', key('assistant'), '--action', 'email:read', '--resource', 'inbox/1', '--audience', 'mail'], {
      input: grant(),
    })
    expect(inv.code, inv.stderr).toBe(0)
    const v = mandate(['verify', ...roots(), '--json'], { input: inv.stdout })
    expect(v.code).toBe(0)
    const d = v.json<{ allowed: boolean; chain: { name?: string }[]; audit: { revocations?: string }; checked: { revocations: boolean } }>()
    expect(d.allowed).toBe(true)
    expect(d.chain.map((l) => l.name)).toEqual(['alice', 'assistant'])
    // no --service: no revocation view, and the decision says so
    expect([d.audit.revocations, d.checked.revocations]).toEqual(['none', false])
    const human = mandate(['verify', ...roots()], { input: inv.stdout })
    expect(human.stdout).toContain('ALLOWED')
    expect(human.stdout).toContain('alice → assistant')
  })

  it('a draft needs approval (exit 1), approve refuses without --yes off a terminal, then it passes', () => {
    const draftFile = join(dir, 'draft.txt')
    const inv = invokeAs('email:draft', ['--arg', 'to=bob@example.com', '--intent', 'reply to Bob'])
    writeFileSync(draftFile, inv.stdout)
    const pending = mandate(['verify', ...roots(), '--json', draftFile])
    expect(pending.code).toBe(1)
    expect(pending.json()).toMatchObject({
      allowed: false,
      code: 'ERR_APPROVAL_REQUIRED',
      block: 0,
      caveat: 'approval',
      hint: expect.stringContaining(alice),
    })
    const refused = mandate(['approve', '--key', key('alice')], { input: inv.stdout })
    expect(refused.code).toBe(2)
    expect(refused.stderr).toContain('--yes')
    expect(refused.stderr).toContain('intent              reply to Bob')
    const ok = mandate(['approve', '--key', key('alice'), '--yes', draftFile])
    expect(ok.code).toBe(0)
    expect(ok.stdout).toMatch(/^mna1_/)
    expect(ok.stderr).toContain('approval requested by assistant')
    writeFileSync(join(dir, 'approval.txt'), ok.stdout)
    expect(mandate(['verify', ...roots(), '--approval', `@${join(dir, 'approval.txt')}`, draftFile]).code).toBe(0)
    const byBob = mandate(['approve', '--key', key('bob'), '--yes', '--json', draftFile]).json<{ approval: string }>().approval
    const wrong = mandate(['verify', ...roots(), '--approval', byBob, '--json', draftFile])
    expect(wrong.code).toBe(1)
    expect(wrong.json<{ code: string }>().code).toBe('ERR_APPROVAL_INVALID')
  })

  it('approve shows every argument it would sign, the 64th too', () => {
    const fillers = Array.from({ length: 63 }, (_, i) => ['--arg', `a${String(i).padStart(2, '0')}=x`]).flat()
    const inv = invokeAs('email:draft', [...fillers, '--arg', 'to=attacker@evil.example'])
    expect(inv.code).toBe(0)
    const shown = mandate(['approve', '--key', key('alice')], { input: inv.stdout })
    expect(shown.code).toBe(2)
    const lines = shown.stderr.split('\n')
    expect(lines).toContain(`${' '.repeat(20)}to = "attacker@evil.example"`)
    expect(lines.filter((l) => / = "x"$/.test(l))).toHaveLength(63)
  })

  it('approve refuses an invocation under a copied signature (its id that of another request): nothing shown as asked, nothing signed', () => {
    const ask = (action: string, to: string) => parseInvocation(invokeAs(action, ['--arg', `to=${to}`]).stdout.trim())
    const real = ask('email:draft', 'attacker@evil.example')
    const shown = ask('email:read', 'me@example.com')
    // What the approver would read, carrying the real request's signature, hence its id.
    const forged = toText('invocation', encodeCbor(concatBytes(real.signature, shown.payload)))
    expect(parseInvocation(forged).idHex).toBe(real.idHex)
    const r = mandate(['approve', '--key', key('alice'), '--yes', '--json', forged])
    expect(r.code).toBe(1)
    expect(r.json<{ error: { code: string; message: string } }>().error).toMatchObject({
      code: 'ERR_SIG_INVALID',
      message: expect.stringContaining('invocation'),
    })
    expect(r.stdout).not.toContain('mna1_')
    expect(r.stderr).not.toContain('email:read')
  })

  it('approve ID refuses the same from a service (hostile, or someone on the way) that answers a forged invocation under the id', async () => {
    const ask = (action: string, to: string) => parseInvocation(invokeAs(action, ['--arg', `to=${to}`]).stdout.trim())
    const real = ask('email:draft', 'attacker@evil.example')
    const shown = ask('email:read', 'me@example.com')
    const forged = toText('invocation', encodeCbor(concatBytes(real.signature, shown.payload)))
    const entry = {
      id: real.idHex,
      status: 'pending',
      requestedBy: { key: assistant, name: 'assistant' },
      onBehalfOf: alice,
      chain: [{ block: 0, name: 'assistant' }],
      action: 'email:read',
      args: { to: 'me@example.com' },
      audience: 'mail',
      approvers: [alice],
      approvals: {},
      createdAt: 1,
      expiresAt: 2,
      invocation: forged,
    }
    // A service of its own process: the CLI runs synchronously here, so this one cannot answer it.
    const fake = spawn(
      process.execPath,
      [
        '-e',
        `require('node:http').createServer((q, a) => { a.writeHead(200, { 'content-type': 'application/json' }); a.end(process.env.ENTRY) }).listen(0, '127.0.0.1', function () { console.log(this.address().port) })`,
      ],
      { env: { ENTRY: JSON.stringify(entry) }, stdio: ['ignore', 'pipe', 'inherit'] },
    )
    try {
      const port = await new Promise<string>((resolve) => fake.stdout?.once('data', (d) => resolve(String(d).trim())))
      const r = mandate(['approve', real.idHex, '--key', key('alice'), '--yes', '--json', '--service', `http://127.0.0.1:${port}`])
      expect(r.code).toBe(1)
      expect(r.json<{ error: { code: string } }>().error.code).toBe('ERR_SIG_INVALID')
      expect(r.stdout + r.stderr).not.toContain('mna1_')
    } finally {
      fake.kill()
    }
  })

  it.skipIf(!hasScript)('on a terminal, approve asks and signs only on yes', () => {
    const draft = join(dir, 'tty-draft.txt')
    writeFileSync(
      draft,
      mandate(['invoke', '--key', key('assistant'), '--action', 'email:draft', '--audience', 'mail'], { input: grant() }).stdout,
    )
    const onTty = (answer: string) =>
      spawnSync('script', ['-qec', `${process.execPath} ${BIN} approve --key ${key('alice')} ${draft}`, '/dev/null'], {
        input: `${answer}\n`,
        encoding: 'utf8',
        env: { PATH: process.env['PATH'] ?? '', NO_COLOR: '1' },
        timeout: 30_000,
      })
    const yes = onTty('y')
    expect(yes.status).toBe(0)
    expect(yes.stdout).toContain('approve email:draft at mail (invocation ')
    expect(yes.stdout).toContain('audience            mail')
    expect(yes.stdout).toMatch(/mna1_[A-Za-z0-9_-]+/)
    const no = onTty('n')
    expect(no.status).toBe(2)
    expect(no.stdout).toContain('not approved')
    expect(no.stdout).not.toMatch(/mna1_/)
  })

  it('denials carry the code, block, caveat and hint; email:send is never allowed', () => {
    const inv = mandate(['invoke', '--key', key('assistant'), '--action', 'email:send', '--audience', 'mail'], { input: grant() })
    const v = mandate(['verify', ...roots(), '--json'], { input: inv.stdout })
    expect(v.code).toBe(1)
    expect(v.json()).toMatchObject({
      allowed: false,
      code: 'ERR_ACTION_DENIED',
      message: expect.any(String),
      hint: expect.any(String),
      block: 0,
      caveat: 'deny',
    })
  })

  it('a bearer mandate is verified from flags; a usage limit without a service fails closed (exit 3)', () => {
    const sub = mandate(['attenuate', '--key', key('assistant'), '--action', 'slack:read', '--uses', '3'], { input: grant() }).stdout
    const r = mandate(['verify', ...roots(), '--action', 'slack:read', '--json'], { input: sub })
    expect(r.code).toBe(3)
    expect(r.json()).toMatchObject({ allowed: false, code: 'ERR_COUNTER_UNAVAILABLE', hint: expect.stringContaining('--service') })
    const noLimit = mandate(['attenuate', '--key', key('assistant'), '--action', 'slack:read'], { input: grant() }).stdout
    expect(mandate(['verify', ...roots(), '--action', 'slack:read'], { input: noLimit }).code).toBe(0)
    const denied = mandate(['verify', ...roots(), '--action', 'email:read'], { input: noLimit })
    expect(denied.code).toBe(1)
    expect(denied.stdout).toContain('DENIED  ERR_ACTION_DENIED')
    expect(mandate(['verify', ...roots()], { input: noLimit }).code).toBe(2)
  })

  it('roots come from --root or MANDATE_ROOTS; a wrong root is denied; --at decides in the past or future', () => {
    const sub = mandate(['attenuate', '--key', key('assistant'), '--action', 'slack:read'], { input: grant() }).stdout
    expect(mandate(['verify', '--audience', 'svc', '--action', 'slack:read'], { input: sub }).code).toBe(2)
    const env = (roots: string) => ({ MANDATE_ROOTS: roots, MANDATE_AUDIENCE: 'svc' })
    expect(mandate(['verify', '--action', 'slack:read'], { input: sub, env: env(`x,${alice}`) }).code).toBe(2)
    expect(mandate(['verify', '--action', 'slack:read'], { input: sub, env: env(alice) }).code).toBe(0)
    const bob = mandate(['pubkey', key('bob')]).stdout.trim()
    const untrusted = mandate(['verify', '--root', bob, '--audience', 'svc', '--action', 'slack:read', '--json'], { input: sub })
    expect([untrusted.code, untrusted.json<{ code: string }>().code]).toEqual([1, 'ERR_ROOT_UNTRUSTED'])
    const later = mandate(
      ['verify', ...roots(), '--action', 'slack:read', '--at', `${Math.floor(Date.now() / 1000) + 9 * 3600}`, '--json'],
      { input: sub },
    )
    expect([later.code, later.json<{ code: string }>().code]).toEqual([1, 'ERR_TIME_EXPIRED'])
  })

  it("verify needs --audience or MANDATE_AUDIENCE (exit 2); the invocation's own audience is never taken", () => {
    const inv = mandate(['invoke', '--key', key('assistant'), '--action', 'email:read', '--audience', 'mail'], { input: grant() }).stdout
    const missing = mandate(['verify', '--root', `alice=${alice}`], { input: inv })
    expect(missing.code).toBe(2)
    expect(missing.stderr).toContain('--audience')
    expect(missing.stderr).toContain('MANDATE_AUDIENCE')
    const empty = mandate(['verify', '--root', `alice=${alice}`], { input: inv, env: { MANDATE_AUDIENCE: '' } })
    expect(empty.code).toBe(2)
    const other = mandate(['verify', '--root', `alice=${alice}`, '--audience', 'calendar', '--json'], { input: inv })
    expect([other.code, other.json<{ code: string }>().code]).toEqual([1, 'ERR_AUDIENCE'])
    expect(mandate(['verify', '--root', `alice=${alice}`], { input: inv, env: { MANDATE_AUDIENCE: 'mail' } }).code).toBe(0)
    const flagWins = mandate(['verify', '--root', `alice=${alice}`, '--audience', 'calendar'], {
      input: inv,
      env: { MANDATE_AUDIENCE: 'mail' },
    })
    expect(flagWins.code).toBe(1)
  })

  it('a tampered token is rejected with a signature code (exit 1)', () => {
    const g = grant()
    const inv = mandate(['invoke', '--key', key('assistant'), '--action', 'email:read', '--audience', 'mail', '--json'], {
      input: g,
    }).json<{ invocation: string }>().invocation
    const i = 200
    const flipped = inv.slice(0, i) + (inv[i] === 'A' ? 'B' : 'A') + inv.slice(i + 1)
    const r = mandate(['verify', ...roots(), '--json', flipped])
    expect(r.code === 1 || r.code === 2).toBe(true)
    expect(r.json<{ allowed?: boolean; error?: unknown }>().allowed ?? false).toBe(false)
  })

  it('invoke refuses wildcards, bad --args-json, and a missing --audience', () => {
    const g = grant()
    expect(mandate(['invoke', '--key', key('assistant'), '--action', 'email:*', '--audience', 'mail'], { input: g }).code).toBe(2)
    expect(
      mandate(['invoke', '--key', key('assistant'), '--action', 'email:read', '--audience', 'mail', '--args-json', '{nope'], { input: g })
        .code,
    ).toBe(2)
    const missing = mandate(['invoke', '--key', key('assistant'), '--action', 'email:read', '--json'], { input: g })
    expect(missing.code).toBe(2)
    expect(missing.json<{ error: { code: string; message: string } }>().error).toMatchObject({
      code: 'ERR_USAGE',
      message: expect.stringContaining('--audience'),
    })
  })
})

describe('revoke', () => {
  it('builds a signed, scoped revocation that inspect can read', () => {
    const g = grant()
    const r = mandate(['revoke', '--key', key('alice'), '--actions', 'slack:send', '--reason', 'no posting', '--json'], { input: g })
    expect(r.code).toBe(0)
    const j = r.json<{ revocation: string; kind: string; actions: string[]; block: number }>()
    expect([j.kind, j.actions, j.block]).toEqual(['revoke', ['slack:send'], 0])
    const view = mandate(['inspect', j.revocation])
    expect(view.stdout).toContain('effect     revoke block 0')
    expect(view.stdout).toContain('no posting')
  })

  it('a key below the block cannot revoke it; --suspend with --resume is a usage error', () => {
    const sub = mandate(['attenuate', '--key', key('assistant'), '--to', mandate(['pubkey', key('bob')]).stdout.trim()], {
      input: grant(),
    }).stdout
    const below = mandate(['revoke', '--key', key('bob'), '--block', '0'], { input: sub })
    expect(below.code).toBe(2)
    expect(below.stderr).toContain('ERR_HOLDER_MISMATCH')
    expect(mandate(['revoke', '--key', key('bob'), '--block', '1'], { input: sub }).code).toBe(0)
    expect(mandate(['revoke', '--key', key('alice'), '--suspend', '--resume'], { input: sub }).code).toBe(2)
    expect(mandate(['revoke', '--key', key('alice'), '--block', '7'], { input: sub }).code).toBe(2)
  })
})

describe('demo and help', () => {
  it('the demo tells the whole story with the right decisions', () => {
    const r = mandate(['demo'])
    expect(r.code).toBe(0)
    const literal = (t: string) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
    const row = (action: string) =>
      r.stdout.split('\n').find((l) => new RegExp(`^\\S+ +\\S+ +${literal(action)} +(ALLOWED|DENIED|—)`).test(l)) ?? ''
    expect(row('email:read')).toContain('ALLOWED')
    expect(row('email:send')).toContain('ERR_ACTION_DENIED')
    expect(row('email:draft')).toContain('ERR_APPROVAL_REQUIRED')
    expect(row('email:draft + approval')).toContain('ALLOWED')
    expect(r.stdout).toMatch(/6\.4 +sub-agent +slack:read +DENIED +ERR_USAGE_EXHAUSTED/)
    expect(r.stdout).toMatch(/slack:send +DENIED +ERR_REVOKED/)
    expect(r.stdout).toMatch(/14 +assistant +slack:read +ALLOWED/)
    expect(r.stdout).toMatch(/suspended\) +DENIED +ERR_SUSPENDED/)
    expect(r.stdout).toMatch(/resumed\) +ALLOWED/)
    // the service's trust model, told in the story: once only, and no stranger spends a quota
    expect(r.stdout).toMatch(/11\.1 +anyone +email:draft again +DENIED +ERR_REPLAY/)
    expect(r.stdout).toMatch(/11\.2 +stranger +spend a quota +— +refused by the service: HTTP 401 ERR_AUTH_REQUIRED/)
    // the doors: an HTTP API (then the captured request replayed) and an MCP tool
    expect(r.stdout).toMatch(/17 +assistant +GET \/inbox \(HTTP\) +ALLOWED +HTTP 200, alice → assistant/)
    expect(r.stdout).toMatch(/17\.1 +anyone +the same request again +DENIED +HTTP 401 ERR_REPLAY: this invocation was already used/)
    expect(r.stdout).toMatch(/18 +assistant +MCP tool list_events +ALLOWED +as calendar:list_events: alice → assistant/)
    // mid-session, Alice tightens the live grant (no new token) and lifts it again
    expect(r.stdout).toMatch(/16\.1 +alice +amend +— +calendar:schedule now needs her approval \(amendment [0-9a-f]{12}…, feed seq 4\)/)
    expect(r.stdout).toMatch(
      /16\.2 +assistant +calendar:schedule +DENIED +ERR_APPROVAL_REQUIRED: block 0 \(amended by did:key:z6Mk\w+ at [\dT:-]+Z: ask me before scheduling\)/,
    )
    expect(r.stdout).toMatch(/16\.4 +assistant +calendar:schedule +ALLOWED +alice → assistant/)
    // and the audit trail: the verifiers' decisions, the revocations and amendments, chained, checked against the service key
    expect(r.stdout).toMatch(
      /19 +auditor +the audit trail +INTACT +\d+ records \(\d+ decisions reported by the verifiers, 3 revocations, 2 amendments and lifts\), hash-chained/,
    )
    expect(r.stdout).toContain('principal  alice')
    const j = mandate(['demo', '--json']).json<{ rows: unknown[]; chain: unknown[] }>()
    expect(j.rows.length).toBeGreaterThan(15)
  })

  it('--help exits 0; an unknown command exits 2 with one JSON error under --json', () => {
    expect(mandate(['--help']).code).toBe(0)
    const unknown = mandate(['frobnicate', '--json'])
    expect(unknown.code).toBe(2)
    expect(unknown.json()).toEqual({ error: { code: 'ERR_USAGE', message: expect.any(String), hint: expect.any(String) } })
  })
})

describe('terminal safety: nothing a token carries reaches the terminal raw (#7)', () => {
  // A carriage return plus an ANSI erase, a bidi override, a line separator, zero-width joiners.
  const EVIL = 'ok\r\x1b[2K\u202eevil\u2028\u200d\u200dx'
  const SHOWN = 'ok\\r\\x1b[2K\\u202eevil\\u2028\\u200d\\u200dx'
  const RAW = ['\r', '\x1b', '\u202e', '\u2028', '\u200d']
  // A resource cannot carry control characters (spec §6.1: the library refuses to sign one),
  // but bidi overrides, line separators and zero-width characters are valid in it.
  const RES = 'ok\u202eevil\u2028\u200d\u200dx'
  const RES_SHOWN = 'ok\\u202eevil\\u2028\\u200d\\u200dx'
  const clean = (text: string) =>
    expect(
      RAW.filter((c) => text.includes(c)),
      JSON.stringify(text),
    ).toEqual([])
  let mandateText: string
  let invocation: string

  beforeAll(() => {
    const m = mandate([
      'mint',
      '--key',
      key('alice'),
      '--to',
      assistant,
      '--name',
      `agent ${EVIL}`,
      '--purpose',
      `why ${EVIL}`,
      '--action',
      'email:*',
      '--approval',
      'email:draft',
      '--resource',
      'inbox/**',
      '--expires',
      '8h',
    ])
    expect(m.code, m.stderr).toBe(0)
    mandateText = m.stdout.trim()
    const inv = mandate(
      [
        'invoke',
        '--key',
        key('assistant'),
        '--action',
        'email:draft',
        '--resource',
        `inbox/${RES}`,
        '--arg',
        `to=${EVIL}`,
        '--audience',
        'mail',
        '--intent',
        `intent ${EVIL}`,
      ],
      { input: mandateText },
    )
    expect(inv.code, inv.stderr).toBe(0)
    invocation = inv.stdout.trim()
  })

  it('inspect shows name, purpose, resource, intent and arguments escaped', () => {
    const m = mandate(['inspect', mandateText])
    expect(m.code).toBe(0)
    clean(m.stdout)
    expect(m.stdout).toContain(`holder   agent ${SHOWN} did:key:`)
    expect(m.stdout).toContain(`purpose  why ${SHOWN}`)
    const i = mandate(['inspect', invocation])
    expect(i.code).toBe(0)
    clean(i.stdout)
    expect(i.stdout).toContain(`request    email:draft on inbox/${RES_SHOWN} for mail`)
    expect(i.stdout).toContain(`intent     intent ${SHOWN}`)
    expect(i.stdout).toContain('args       {"to":"ok\\r\\u001b[2K\\u202eevil\\u2028\\u200d\\u200dx"}')
  })

  it('--json escapes U+2028, bidi and zero-width characters too, and still parses to the same strings', () => {
    for (const r of [mandate(['inspect', '--json', mandateText]), mandate(['inspect', '--json', invocation])]) {
      expect(r.code).toBe(0)
      clean(r.stdout)
      expect(r.stdout).toContain('\\u202eevil\\u2028\\u200d\\u200dx')
    }
    const m = mandate(['inspect', '--json', mandateText]).json<{ blocks: { name: string; purpose: string }[] }>()
    expect(m.blocks[0]).toMatchObject({ name: `agent ${EVIL}`, purpose: `why ${EVIL}` })
    const i = mandate(['inspect', '--json', invocation]).json<{ resource: string; intent: string; args: { to: string } }>()
    expect([i.resource, i.intent, i.args.to]).toEqual([`inbox/${RES}`, `intent ${EVIL}`, EVIL])
  })

  it('approve shows the whole request, escaped, before asking (and before refusing to ask)', () => {
    const refused = mandate(['approve', '--key', key('alice')], { input: invocation })
    expect(refused.code).toBe(2)
    clean(refused.stderr)
    const id = mandate(['inspect', '--json', invocation]).json<{ id: string }>().id
    const lines = refused.stderr.split('\n')
    for (const expected of [
      `approval requested by agent ${SHOWN} (${assistant})`,
      `on behalf of        ${alice}`,
      `chain               principal  ${alice}`,
      `                    holder 0   agent ${SHOWN}  ${assistant}  (bound)`,
      `purpose (block 0)   why ${SHOWN}`,
      'action              email:draft',
      `resource            inbox/${RES_SHOWN}`,
      'audience            mail',
      'arguments           to = "ok\\r\\u001b[2K\\u202eevil\\u2028\\u200d\\u200dx"',
      `intent              intent ${SHOWN}`,
      `invocation          ${id}`,
    ]) {
      expect(lines).toContain(expected)
    }
    expect(refused.stderr).toContain('--yes')
    const ok = mandate(['approve', '--key', key('alice'), '--yes', invocation])
    expect(ok.code).toBe(0)
    clean(ok.stderr)
    expect(ok.stderr).toContain(`resource            inbox/${RES_SHOWN}`)
    expect(ok.stdout).toMatch(/^mna1_/)
    const json = mandate(['approve', '--key', key('alice'), '--json'], { input: invocation })
    expect(json.code).toBe(2)
    clean(json.stdout)
    clean(json.stderr)
    expect(json.stderr).toContain(`intent              intent ${SHOWN}`)
    expect(json.json<{ error: { code: string } }>().error.code).toBe('ERR_USAGE')
  })

  it('a verify denial shows the resource and the chain names escaped, in text and in --json', () => {
    const narrow = mandate(
      [
        'mint',
        '--key',
        key('alice'),
        '--to',
        assistant,
        '--name',
        `agent ${EVIL}`,
        '--action',
        'email:*',
        '--resource',
        'drive/**',
        '--expires',
        '1h',
      ],
      {},
    ).stdout.trim()
    const inv = mandate(
      ['invoke', '--key', key('assistant'), '--action', 'email:read', '--resource', `inbox/${RES}`, '--audience', 'mail'],
      { input: narrow },
    ).stdout.trim()
    const text = mandate(['verify', '--root', `alice=${alice}`, '--audience', 'mail', inv])
    expect(text.code).toBe(1)
    clean(text.stdout)
    clean(text.stderr)
    expect(text.stdout).toContain('ERR_RESOURCE_DENIED')
    expect(text.stdout).toContain(`inbox/${RES_SHOWN}`)
    expect(text.stdout).toContain(`alice → agent ${SHOWN}`)
    const json = mandate(['verify', '--root', `alice=${alice}`, '--audience', 'mail', '--json', inv])
    expect(json.code).toBe(1)
    clean(json.stdout)
    expect(json.json<{ code: string; audit: { resource: string } }>()).toMatchObject({
      code: 'ERR_RESOURCE_DENIED',
      audit: { resource: `inbox/${RES}` },
    })
  })

  it('invoke refuses a resource with a control character, a .. segment or an uppercase action (#8)', () => {
    for (const [flag, value] of [
      ['--resource', `inbox/${EVIL}`],
      ['--resource', 'inbox/../x'],
      ['--action', 'Email:draft'],
    ] as const) {
      const args = ['invoke', '--key', key('assistant'), '--action', 'email:draft', '--audience', 'mail', flag, value]
      const r = mandate(args, { input: mandateText })
      expect(r.code, r.stderr).toBe(2)
      clean(r.stderr)
      expect(r.stderr).toContain('ERR_REQUEST_INVALID')
    }
  })

  it('error messages are escaped too', () => {
    const r = mandate(['inspect', `--bogus${EVIL}`])
    expect(r.code).toBe(2)
    clean(r.stderr)
    expect(r.stderr).toContain(SHOWN)
    const j = mandate(['inspect', '--json', `--bogus${EVIL}`])
    expect(j.code).toBe(2)
    clean(j.stdout)
    expect(j.json<{ error: { message: string } }>().error.message).toContain(EVIL)
  })
})
