/**
 * The CLI is safe by default (#13): no all-powerful mandate by omission, secrets warned about
 * where others can read them, no mandate that is expired from the start or has an empty window,
 * and input mistakes that exit 2 with a hint saying what to type instead.
 */
import { spawn, spawnSync } from 'node:child_process'
import { chmodSync, closeSync, openSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { parseTime, relative } from '../../src/cli/time.js'
import { importSecretKeyPem, toDidKey } from '../../src/crypto/keys.js'
import { formatMandate, mint } from '../../src/token/mandate.js'
import { BIN, mandate, scratch } from '../helpers/cli.js'

const hasScript = spawnSync('script', ['--version']).status === 0
const FORMS = 'a TIME is a duration from now (90s, 15m, 8h, 7d, 1h30m), Unix seconds (1767225600) or ISO 8601 with a zone'
let dir: string
let alice: string
let assistant: string
const key = (name: string) => join(dir, `${name}.pem`)
const now = () => Math.floor(Date.now() / 1000)

beforeAll(() => {
  dir = scratch()
  alice = mandate(['keygen', '-o', key('alice')]).stdout.trim()
  assistant = mandate(['keygen', '-o', key('assistant')]).stdout.trim()
})

/** `mandate ARGS > FILE`, the file created first with `mode`. */
function toFile(args: readonly string[], file: string, mode: number): { code: number | null; stderr: string } {
  writeFileSync(file, '')
  chmodSync(file, mode)
  const fd = openSync(file, 'w')
  try {
    const r = spawnSync(process.execPath, [BIN, ...args], {
      stdio: ['ignore', fd, 'pipe'],
      env: { PATH: process.env['PATH'] ?? '', NO_COLOR: '1' },
      encoding: 'utf8',
      timeout: 30_000,
    })
    return { code: r.status, stderr: r.stderr }
  } finally {
    closeSync(fd)
  }
}

/** `mandate ARGS` on a terminal (util-linux `script`): what the terminal showed. */
function onTerminal(args: readonly string[]): { code: number | null; shown: string } {
  const r = spawnSync('script', ['-qec', [process.execPath, BIN, ...args].map((a) => `'${a}'`).join(' '), '/dev/null'], {
    encoding: 'utf8',
    env: { PATH: process.env['PATH'] ?? '', NO_COLOR: '1' },
    timeout: 30_000,
  })
  return { code: r.status, shown: r.stdout }
}

const bearer = ['mint', '--key', '', '--action', 'calendar:read', '--expires', '1h']
const bearerArgs = () => bearer.map((a, i) => (i === 2 ? key('alice') : a))

describe('mint never makes an all-powerful mandate by omission', () => {
  it('without --action: exit 2, nothing minted, a hint naming --action and --allow-all-actions', () => {
    const r = mandate(['mint', '--key', key('alice'), '--expires', '8h'])
    expect(r.code).toBe(2)
    expect(r.stdout).toBe('')
    expect(r.stderr).toBe(
      'mandate: error: a root mandate without --action would allow every action\n' +
        "mandate: hint: name what it allows with --action PATTERN (repeatable, e.g. --action 'email:read'), or pass --allow-all-actions if it must allow everything\n",
    )
    const j = mandate(['mint', '--key', key('alice'), '--to', assistant, '--expires', '8h', '--json'])
    expect(j.code).toBe(2)
    expect(j.json()).toEqual({
      error: {
        code: 'ERR_USAGE',
        message: expect.stringContaining('without --action'),
        hint: expect.stringContaining('--allow-all-actions'),
      },
    })
  })

  it('--allow-all-actions names the danger, warns, and the mandate does allow anything', () => {
    const r = mandate(['mint', '--key', key('alice'), '--to', assistant, '--expires', '8h', '--allow-all-actions'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toContain('mandate: warning: this mandate allows every action (--allow-all-actions)')
    const inv = mandate(['invoke', '--key', key('assistant'), '--action', 'bank:transfer', '--resource', 'acct/1', '--audience', 'bank'], {
      input: r.stdout,
    })
    expect(mandate(['verify', '--root', alice, '--audience', 'bank'], { input: inv.stdout }).code).toBe(0)
    const both = mandate(['mint', '--key', key('alice'), '--expires', '8h', '--allow-all-actions', '--action', 'email:read'])
    expect([both.code, both.stderr]).toEqual([2, expect.stringContaining('--allow-all-actions and --action exclude each other')])
  })
})

describe('a bearer mandate is a secret: warned about where others can read it', () => {
  it('into a pipe: no warning (the reader is the next command)', () => {
    const r = mandate(bearerArgs())
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/^mnd1_/)
    expect(r.stderr).toBe('')
  })

  it('into a file others can read (> FILE, mode 0644): a warning naming the mode and -o', () => {
    const file = join(dir, 'open.txt')
    const r = toFile(bearerArgs(), file, 0o644)
    expect(r.code).toBe(0)
    expect(readFileSync(file, 'utf8')).toMatch(/^mnd1_/)
    expect(r.stderr).toBe(
      'mandate: warning: this bearer mandate goes to a file others can read (mode 0644): whoever holds the text can use it; use -o FILE (mode 0600), or chmod 600 the file\n',
    )
    const json = toFile([...bearerArgs(), '--json'], file, 0o640)
    expect(json.stderr).toBe('')
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ warnings: [expect.stringContaining('(mode 0640)')] })
  })

  it('into a file only its owner reads (mode 0600), or a bound mandate anywhere: no warning', () => {
    expect(toFile(bearerArgs(), join(dir, 'private.txt'), 0o600).stderr).toBe('')
    const bound = ['mint', '--key', key('alice'), '--to', assistant, '--action', 'calendar:read', '--expires', '1h']
    expect(toFile(bound, join(dir, 'bound.txt'), 0o644).stderr).toBe('')
  })

  it('-o FILE writes mode 0600, and an overwritten open file (--force) ends up 0600 too', () => {
    const file = join(dir, 'secret.txt')
    const r = mandate([...bearerArgs(), '-o', file])
    expect([r.code, r.stdout, r.stderr]).toEqual([0, '', ''])
    expect(statSync(file).mode & 0o777).toBe(0o600)
    chmodSync(file, 0o644)
    expect(mandate([...bearerArgs(), '-o', file]).code).toBe(2)
    const forced = mandate([...bearerArgs(), '-o', file, '--force'])
    expect([forced.code, forced.stderr]).toEqual([0, ''])
    expect(statSync(file).mode & 0o777).toBe(0o600)
  })

  it('-o --force never writes a secret through a symbolic link, nor into a FIFO (nor waits on one)', () => {
    const target = join(dir, 'elsewhere.txt')
    writeFileSync(target, 'keep me\n', { mode: 0o644 })
    const link = join(dir, 'link.pem')
    symlinkSync(target, link)
    for (const args of [
      ['keygen', '-o', link, '--force'],
      [...bearerArgs(), '-o', link, '--force'],
    ]) {
      const r = mandate([...args, '--json'])
      expect([r.code, r.json<{ error: { message: string } }>().error.message]).toEqual([3, `cannot write ${link}: it is a symbolic link`])
    }
    expect([readFileSync(target, 'utf8'), statSync(target).mode & 0o777]).toEqual(['keep me\n', 0o644])
    const fifo = join(dir, 'fifo.pem')
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0)
    const r = mandate(['keygen', '-o', fifo, '--force', '--json'])
    expect([r.code, r.json<{ error: { message: string } }>().error.message]).toEqual([3, `cannot write ${fifo}: it is a FIFO nobody reads`])
    // With someone reading it, the key would be handed to them: refused all the same.
    const reader = spawn('cat', [fifo], { stdio: ['ignore', 'pipe', 'ignore'] })
    let read = ''
    reader.stdout.on('data', (d) => {
      read += String(d)
    })
    try {
      const until = Date.now() + 5000
      let answer = mandate(['keygen', '-o', fifo, '--force', '--json'])
      // The reader may not have opened its end yet: until it has, the FIFO has nobody reading.
      while (answer.stdout.includes('nobody reads') && Date.now() < until) answer = mandate(['keygen', '-o', fifo, '--force', '--json'])
      expect([answer.code, answer.json<{ error: { message: string } }>().error.message]).toEqual([
        3,
        `cannot write ${fifo}: it is not a regular file`,
      ])
    } finally {
      reader.kill()
    }
    expect(read).toBe('')
  })

  it.skipIf(!hasScript)('on a terminal: a warning that the secret is on the screen', () => {
    const r = onTerminal(bearerArgs())
    expect(r.code).toBe(0)
    expect(r.shown).toContain('mandate: warning: this is a bearer mandate, printed to a terminal: whoever holds the text can use it')
    expect(r.shown).toContain('-o FILE (mode 0600)')
    const bound = onTerminal(['mint', '--key', key('alice'), '--to', assistant, '--action', 'calendar:read', '--expires', '1h'])
    expect(bound.shown).not.toContain('warning')
  })
})

describe('time windows: durations, no 1970, nothing expired from the start, no empty window', () => {
  const expiresOf = (args: readonly string[]) => {
    const r = mandate(['mint', '--key', key('alice'), '--to', assistant, '--action', 'x', ...args, '--json'])
    expect(r.code, r.stdout + r.stderr).toBe(0)
    return mandate(['inspect', '--json', r.json<{ mandate: string }>().mandate]).json<{ expires: number }>().expires
  }

  it.each([
    ['90s', 90],
    ['15m', 900],
    ['8h', 8 * 3600],
    ['7d', 7 * 86400],
    ['1h30m', 5400],
    ['2w', 14 * 86400],
  ])('--expires %s is %i seconds from now', (text, seconds) => {
    const before = now()
    const expires = expiresOf(['--expires', text])
    expect(expires).toBeGreaterThanOrEqual(before + seconds)
    expect(expires).toBeLessThanOrEqual(now() + seconds)
  })

  it('Unix seconds and ISO 8601 with a zone are absolute times', () => {
    const at = now() + 3600
    expect(expiresOf(['--expires', String(at)])).toBe(at)
    expect(expiresOf(['--expires', new Date(at * 1000).toISOString()])).toBe(at)
    expect(expiresOf(['--expires', new Date(at * 1000).toISOString().replace('Z', '+00:00')])).toBe(at)
  })

  it('a day or hour that does not exist is no time, never the one it would roll over to', () => {
    for (const t of [
      '2027-02-29T09:00:00Z',
      '2027-04-31T00:00:00Z',
      '2027-01-01T24:00:00Z',
      '2027-06-00T00:00:00Z',
      '2027-13-01T00:00:00Z',
    ]) {
      const r = mandate(['mint', '--key', key('alice'), '--action', 'x', '--expires', t, '--json'])
      expect([t, r.code, r.json<{ error: { message: string } }>().error.message]).toEqual([
        t,
        2,
        `--expires: not a time: ${JSON.stringify(t)}`,
      ])
    }
    // The days that do exist: a leap year's February 29th, a month's 31st, 23:59, another zone.
    for (const t of ['2028-02-29T09:00:00Z', '2027-12-31T23:59:59Z', '2027-03-31T23:30:00+05:30', '2000-02-29 00:00Z']) {
      expect([t, parseTime(t, '--expires')]).toEqual([t, Date.parse(t.replace(' ', 'T')) / 1000])
    }
  })

  it('--expires 3600 is refused (not 1970): exit 2, "did you mean 3600s?", and the accepted forms', () => {
    const r = mandate(['mint', '--key', key('alice'), '--action', 'x', '--expires', '3600'])
    expect(r.code).toBe(2)
    expect(r.stdout).toBe('')
    expect(r.stderr).toContain('mandate: error: --expires: 3600 is not a time: as Unix seconds it would be 1970-01-01T01:00:00Z\n')
    expect(r.stderr).toContain(`mandate: hint: did you mean 3600s (1h from now)? ${FORMS}`)
    const at = mandate(['verify', '--root', alice, '--audience', 'x', '--action', 'x', '--at', '600'], { input: grantText() })
    expect([at.code, at.stderr]).toEqual([2, expect.stringContaining('did you mean 600s (10m from now)?')])
  })

  it('an expiry already past is refused with exit 2 and a hint, whatever its form', () => {
    for (const past of ['2020-01-01T00:00:00Z', String(now() - 60)]) {
      const r = mandate(['mint', '--key', key('alice'), '--action', 'x', '--expires', past, '--json'])
      expect(r.code).toBe(2)
      expect(r.json()).toEqual({
        error: {
          code: 'ERR_USAGE',
          message: expect.stringMatching(/is already past \(now .*\): the mandate would be expired from the start$/),
          hint: expect.stringContaining(FORMS),
        },
      })
    }
  })

  it('an empty window (not-before at or after expiry) is refused, in mint and attenuate', () => {
    const r = mandate(['mint', '--key', key('alice'), '--action', 'x', '--not-before', '2h', '--expires', '1h'])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/mandate: error: the window is empty: --not-before \S+ is not before --expires \S+\n/)
    expect(r.stderr).toContain('mandate: hint: a window starts before it ends')
    const grant = grantText()
    const late = mandate(['attenuate', '--key', key('assistant'), '--not-before', '2h'], { input: grant })
    expect(late.code).toBe(2)
    expect(late.stderr).toMatch(/the window is empty: --not-before \S+ is not before the mandate's own expiry \S+ \(block 0\)/)
    const past = mandate(['attenuate', '--key', key('assistant'), '--expires', '2020-01-01T00:00:00Z'], { input: grant })
    expect([past.code, past.stderr]).toEqual([2, expect.stringContaining('is already past')])
  })

  it('attenuating or invoking a mandate that has already expired is refused', () => {
    const principal = importSecretKeyPem(readFileSync(key('alice'), 'utf8'))
    const old = formatMandate(
      mint({
        principal,
        to: assistant,
        caveats: [
          { type: 'actions', patterns: ['x'] },
          { type: 'window', expires: now() - 60 },
        ],
        now: now() - 3600,
      }),
    )
    const r = mandate(['attenuate', '--key', key('assistant'), '--action', 'x'], { input: old })
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/mandate: error: this mandate expired at \S+ \(block 0\): a narrower one would be expired too\n/)
    expect(toDidKey(principal.publicKey)).toBe(alice)
    // nor is an invocation of it signed: no verifier would accept it
    const inv = mandate(['invoke', '--key', key('assistant'), '--action', 'x', '--audience', 'svc'], { input: old })
    expect([inv.code, inv.stdout]).toEqual([2, ''])
    expect(inv.stderr).toMatch(/mandate: error: this mandate expired at \S+ \(block 0\): no verifier accepts an invocation of it\n/)
  })

  it('every time or duration error names the accepted forms', () => {
    for (const [flag, value, forms] of [
      ['--expires', 'soon', FORMS],
      ['--expires', '1.5h', FORMS],
      ['--expires', '30 m', FORMS],
      ['--expires', '2026-12-01', 'give the time and its zone, e.g. 2026-12-01T09:00:00Z'],
      ['--not-before', 'tomorrow', FORMS],
      ['--per', '3600', 'did you mean 3600s? a DURATION is whole units, largest first: 90s, 15m, 8h, 7d, 2w or 1h30m'],
      ['--per', '0s', 'a DURATION is whole units'],
    ] as const) {
      const extra = flag === '--per' ? ['--uses', '5', '--expires', '1h'] : flag === '--not-before' ? ['--expires', '1h'] : []
      const r = mandate(['mint', '--key', key('alice'), '--action', 'x', ...extra, flag, value, '--json'])
      expect(r.code, `${flag} ${value}`).toBe(2)
      expect(r.json<{ error: { hint: string } }>().error.hint, `${flag} ${value}`).toContain(forms)
    }
  })
})

/** A bound grant to the assistant, 1h, calendar:*. */
function grantText(): string {
  const r = mandate(['mint', '--key', key('alice'), '--to', assistant, '--action', 'calendar:*', '--expires', '1h'])
  expect(r.code, r.stderr).toBe(0)
  return r.stdout.trim()
}

describe('times shown to a person', () => {
  it('read as from now: ahead, past, or now itself (never "in 0s")', () => {
    const t = 1_800_000_000
    expect([relative(t, t), relative(t + 59, t), relative(t - 60, t), relative(t + 28_740, t), relative(t - 90_000, t)]).toEqual([
      'now',
      'in 59s',
      '1m ago',
      'in 7h59m',
      '1d1h ago',
    ])
  })
})

describe('input mistakes exit 2 with a hint', () => {
  it('a bad action pattern, resource glob or lifetime is an input mistake (exit 2), with the library code', () => {
    const action = mandate(['mint', '--key', key('alice'), '--action', 'email::read', '--expires', '1h', '--json'])
    expect(action.code).toBe(2)
    expect(action.json()).toEqual({
      error: {
        code: 'ERR_CAVEAT_INVALID',
        message: 'actions caveat: bad action pattern "email::read"',
        hint: expect.stringContaining("an action pattern is ':'-separated segments"),
      },
    })
    const deny = mandate(['attenuate', '--key', key('assistant'), '--deny', 'Calendar:Write'], { input: grantText() })
    expect([deny.code, deny.stderr]).toEqual([2, expect.stringContaining("mandate: hint: an action pattern is ':'-separated")])
    const glob = mandate(['mint', '--key', key('alice'), '--action', 'x', '--resource', 'a/../b', '--expires', '1h'])
    expect([glob.code, glob.stderr]).toEqual([2, expect.stringContaining('mandate: hint: a resource glob is')])
    const long = mandate(['mint', '--key', key('alice'), '--action', 'x', '--expires', '91d'])
    expect(long.code).toBe(2)
    expect(long.stderr).toBe(
      'mandate: error: --expires: a root mandate lives at most 90d; this one would live 91d\n' +
        'mandate: hint: pass --expires 90d or less: a longer grant is a new mandate later\n',
    )
    const scoped = mandate(['revoke', '--key', key('alice'), '--actions', 'Email:*'], { input: grantText() })
    expect(scoped.code).toBe(2)
  })

  it('flag values out of range say what is expected', () => {
    const uses = mandate(['mint', '--key', key('alice'), '--action', 'x', '--expires', '1h', '--uses', '0'])
    expect(uses.stderr).toBe(
      'mandate: error: --uses: expected 1..4294967295, got 0\nmandate: hint: --uses takes a whole number from 1 to 4294967295\n',
    )
    const arg = mandate(['invoke', '--key', key('assistant'), '--action', 'calendar:read', '--audience', 'cal', '--arg', 'oops'], {
      input: grantText(),
    })
    expect([arg.code, arg.stderr]).toEqual([2, expect.stringContaining('mandate: hint: e.g. --arg to=bob@example.com')])
  })

  it('garbage is "not a token", never "a bare mandate needs --action"', () => {
    const r = mandate(['verify', 'hello', '--root', alice, '--audience', 'mail', '--json'])
    expect(r.code).toBe(2)
    expect(r.json()).toEqual({
      error: {
        code: 'ERR_TEXT_FORMAT',
        message: 'not a mandate (mnd1_…) or an invocation (mni1_…): the argument starts with "hello"',
        hint: 'verify takes a mandate (mnd1_…) or an invocation (mni1_…): the text, @FILE, a file path, or - for standard input; there is no file named "hello"',
      },
    })
    // A token pasted with something before it is not repeated back: it may be a bearer secret.
    const bearer = mandate(['mint', '--key', key('alice'), '--action', 'email:read', '--expires', '1h']).stdout.trim()
    for (const pasted of [`Mandate ${bearer}`, `\u200b${bearer}`, `mandate=${bearer}`]) {
      for (const command of [['inspect'], ['verify', '--root', alice, '--audience', 'mail'], ['attenuate', '--action', 'email:read']]) {
        const r = mandate([...command, pasted, '--json'])
        expect([r.code, r.stdout.includes(bearer.slice(5, 40)), r.stderr.includes(bearer.slice(5, 40))]).toEqual([2, false, false])
        expect(r.json<{ error: { hint: string } }>().error.hint).toMatch(
          /and no file has that name \(not shown: it holds what looks like a token, which may be a secret\)$/,
        )
      }
    }
    writeFileSync(join(dir, 'notes.txt'), 'dear diary')
    const file = mandate(['inspect', join(dir, 'notes.txt')])
    expect(file.code).toBe(2)
    expect(file.stderr).toContain(`: file ${join(dir, 'notes.txt')} starts with "dear diary" (ERR_TEXT_FORMAT)`)
    const piped = mandate(['attenuate', '--action', 'x'], { input: 'not a token at all\n' })
    expect(piped.stderr).toContain('mandate: error: not a mandate (mnd1_…): standard input starts with "not a token …"')
  })

  it('a mistyped prefix, quotes, or a token of another kind are named as such', () => {
    const g = grantText()
    const typo = mandate(['inspect', `mdn1_${g.slice(5)}`])
    expect([typo.code, typo.stderr]).toEqual([2, expect.stringContaining('mandate: hint: did you mean mnd1_…?')])
    expect(mandate(['inspect', `MND1_${g.slice(5)}`]).stderr).toContain('did you mean mnd1_…?')
    expect(mandate(['inspect', `"${g}"`]).stderr).toContain('mandate: hint: remove the quotes around the token')
    const inv = mandate(['invoke', '--key', key('assistant'), '--action', 'calendar:read', '--audience', 'cal'], { input: g }).stdout
    const wrong = mandate(['invoke', '--key', key('assistant'), '--action', 'calendar:read', '--audience', 'cal', inv.trim()])
    expect(wrong.code).toBe(2)
    expect(wrong.stderr).toContain('mandate: error: this is an invocation (mni1_…), not a mandate (mnd1_…) (ERR_TEXT_FORMAT)')
    const ok = mandate(['approve', '--key', key('alice'), '--yes'], { input: inv }).stdout.trim()
    const approval = mandate(['verify', ok, '--root', alice, '--audience', 'cal'])
    expect(approval.stderr).toContain('mandate: hint: verify takes the invocation; pass the approval with --approval TEXT|@FILE')
  })

  it('a truncated token says it looks truncated; a wrapped one says where the break is', () => {
    const g = grantText()
    for (const cut of [1, 2, 3, 5, 8, 13, 40]) {
      const r = mandate(['inspect', '--json', g.slice(0, g.length - cut)])
      expect(r.code, `cut ${cut}`).toBe(2)
      expect(r.json<{ error: { code: string; hint: string } }>().error, `cut ${cut}`).toMatchObject({
        code: expect.stringMatching(/^ERR_(TEXT_FORMAT|CBOR_MALFORMED)$/),
        hint: expect.stringContaining('it looks truncated'),
      })
    }
    const verify = mandate(['verify', '--root', alice, '--audience', 'cal', '--action', 'calendar:read', g.slice(0, -7)])
    expect([verify.code, verify.stderr]).toEqual([2, expect.stringContaining('mandate: hint: it looks truncated')])
    const wrapped = mandate(['inspect', `${g.slice(0, 60)}\n${g.slice(60)}`])
    expect(wrapped.code).toBe(2)
    expect(wrapped.stderr).toContain('the token text has a line break or space at character 61')
  })
})

describe('approve works offline whatever the environment says', () => {
  it('an invocation is approved here even with MANDATE_SERVICE set (and unreachable); a request id needs a service', () => {
    const draft = join(dir, 'draft.txt')
    const grant = mandate([
      'mint',
      '--key',
      key('alice'),
      '--to',
      assistant,
      '--action',
      'calendar:*',
      '--approval',
      'calendar:write',
      '--expires',
      '1h',
    ]).stdout
    writeFileSync(
      draft,
      mandate(['invoke', '--key', key('assistant'), '--action', 'calendar:write', '--audience', 'cal'], { input: grant }).stdout,
    )
    const env = { MANDATE_SERVICE: 'http://127.0.0.1:9' }
    const ok = mandate(['approve', draft, '--key', key('alice'), '--yes'], { env })
    expect(ok.code, ok.stderr).toBe(0)
    expect(ok.stdout).toMatch(/^mna1_/)
    writeFileSync(join(dir, 'ok.txt'), ok.stdout)
    const roots = ['--root', `alice=${alice}`, '--audience', 'cal']
    expect(mandate(['verify', draft, ...roots, '--json']).json<{ code: string }>().code).toBe('ERR_APPROVAL_REQUIRED')
    expect(mandate(['verify', draft, ...roots, '--approval', `@${join(dir, 'ok.txt')}`]).code).toBe(0)
    // a path to the approval works as well as @FILE
    expect(mandate(['verify', draft, ...roots, '--approval', join(dir, 'ok.txt')]).code).toBe(0)
    const id = mandate(['inspect', '--json', draft]).json<{ id: string }>().id
    const noService = mandate(['approve', id, '--key', key('alice'), '--yes'])
    expect(noService.code).toBe(2)
    expect(noService.stderr).toContain("is a request id: it is read from the service's inbox, and no service is set")
    expect(noService.stderr).toContain('mandate: hint: pass --service URL or set MANDATE_SERVICE; or approve the invocation itself')
  })
})
