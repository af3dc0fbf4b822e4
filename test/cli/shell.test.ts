/**
 * The CLI in a shell (#13): `mandate` alone, --version (also as JSON), unknown commands,
 * output into a pipe that closes early, examples in every command's help, completion scripts,
 * and verify --skew.
 */
import { spawn, spawnSync } from 'node:child_process'
import { closeSync, existsSync, openSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { BIN, mandate, scratch } from '../helpers/cli.js'

const has = (shell: string) => spawnSync(shell, ['--version']).status === 0
let dir: string
let alice: string
const key = (name: string) => join(dir, `${name}.pem`)

beforeAll(() => {
  dir = scratch()
  alice = mandate(['keygen', '-o', key('alice')]).stdout.trim()
})

describe('mandate alone, --version, unknown commands', () => {
  it('mandate alone prints the help on stderr and exits 2 (a usage error), nothing on stdout', () => {
    const r = mandate([])
    expect(r.code).toBe(2)
    expect(r.stdout).toBe('')
    expect(r.stderr).toMatch(/^Usage: mandate \[options\] \[command\]\n/)
    expect(r.stderr).toContain('  mint [options]')
    expect(r.stderr).toMatch(
      /\nmandate: error: no command given\nmandate: hint: start with mandate demo; mandate COMMAND --help shows a command with examples\n$/,
    )
    const json = mandate(['--json'])
    expect([json.code, json.stderr]).toEqual([2, ''])
    expect(json.json()).toEqual({
      error: { code: 'ERR_USAGE', message: 'no command given', hint: expect.stringContaining('mandate demo') },
    })
    // --help and help are what asking looks like: exit 0, on stdout
    for (const args of [['--help'], ['help'], ['-h']]) {
      const help = mandate(args)
      expect([help.code, help.stderr], args.join(' ')).toEqual([0, ''])
      expect(help.stdout).toContain('Examples:\n  $ mandate demo')
    }
  })

  it('--version prints the package version; with --json, a JSON object', () => {
    const version = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version
    expect(mandate(['--version'])).toMatchObject({ code: 0, stdout: `${version}\n`, stderr: '' })
    expect(mandate(['-V']).stdout).toBe(`${version}\n`)
    for (const args of [
      ['--json', '--version'],
      ['--version', '--json'],
    ]) {
      const r = mandate(args)
      expect([r.code, r.stderr]).toEqual([0, ''])
      expect(r.json()).toEqual({ name: 'mandate', version })
    }
  })

  it('an unknown command exits 2 with "unknown command", even with --help, and suggests a near one', () => {
    for (const args of [['frobnicate', '--help'], ['frobnicate'], ['help', 'frobnicate'], ['--json', 'frobnicate', '--help']]) {
      const r = mandate(args)
      expect(r.code, args.join(' ')).toBe(2)
      if (args.includes('--json')) {
        expect(r.json()).toEqual({
          error: { code: 'ERR_USAGE', message: "unknown command 'frobnicate'", hint: 'see mandate --help for the commands' },
        })
      } else {
        expect(r.stdout).toBe('')
        expect(r.stderr).toBe("mandate: error: unknown command 'frobnicate'\nmandate: hint: see mandate --help for the commands\n")
      }
    }
    expect(mandate(['mnt']).stderr).toContain('mandate: hint: did you mean mandate mint? see mandate --help')
    expect(mandate(['verfy', '--root', 'x']).stderr).toContain('did you mean mandate verify?')
    const sub = mandate(['approvals', 'lst', '--help'])
    expect(sub.code).toBe(2)
    expect(sub.stderr).toBe(
      "mandate: error: unknown command 'lst' (of mandate approvals)\nmandate: hint: did you mean mandate approvals list? see mandate approvals --help\n",
    )
    // commander's own errors point at the command's help
    const flag = mandate(['mint', '--frobnicate'])
    expect([flag.code, flag.stderr]).toEqual([2, "mandate: error: unknown option '--frobnicate'\nmandate: hint: see mandate mint --help\n"])
    const missing = mandate(['approvals', 'show'])
    expect([missing.code, missing.stderr]).toEqual([2, expect.stringContaining('mandate: hint: see mandate approvals show --help\n')])
    // global options before the command, with their values, are stepped over
    expect(mandate(['--timeout', '5', 'frobnicate']).stderr).toContain("unknown command 'frobnicate'")
    expect(mandate(['--timeout', '5', 'pubkey', key('alice')]).stdout.trim()).toBe(alice)
  })

  it('a command group without its subcommand shows its help and exits 2', () => {
    const r = mandate(['approvals'])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/^Usage: mandate approvals \[options\] \[command\]\n/)
    expect(r.stderr).toMatch(/mandate: error: mandate approvals needs a command: list, show, request, deny\n/)
    expect(r.stderr).not.toContain('outputHelp')
    expect(mandate(['approvals', '--help']).code).toBe(0)
  })
})

/** Run `mandate ARGS` with its standard output closed before it writes (`mandate … | head -0`). */
function intoClosedPipe(args: readonly string[], input?: string): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { PATH: process.env['PATH'] ?? '', NO_COLOR: '1' },
    })
    child.stdout.destroy()
    let stderr = ''
    child.stderr.on('data', (d) => {
      stderr += String(d)
    })
    child.stdin.end(input ?? '')
    child.once('close', (code) => resolve({ code, stderr }))
  })
}

describe('output into a pipe that closes early ends quietly', () => {
  it.each(['--help', 'mint --help', 'completion bash', 'pubkey --format pem', 'inspect --json'])(
    'mandate %s | head -0: no EPIPE stack trace, exit 0',
    async (line) => {
      const args = line.split(' ')
      const token = mandate(['mint', '--key', key('alice'), '--action', 'x', '--expires', '1h']).stdout
      const withKey = args[0] === 'pubkey' ? [...args, key('alice')] : args
      const r = await intoClosedPipe(withKey, token)
      expect(r.stderr).toBe('')
      expect(r.code).toBe(0)
    },
  )
})

/**
 * `mandate ARGS` writing into a one-page pipe whose descriptor was left non-blocking by another
 * program (perl sets O_NONBLOCK and F_SETPIPE_SZ, then runs the command), read only after a pause:
 * a write the pipe cannot take at once fails with EAGAIN, and the rest must still arrive, in order.
 */
function intoSlowNonBlockingPipe(args: readonly string[]): Promise<{ stdout: string; stderr: string }> {
  const perl =
    'use Fcntl; fcntl(STDOUT, 1031, 4096) or die "F_SETPIPE_SZ: $!"; my $f = fcntl(STDOUT, F_GETFL, 0) or die; ' +
    'fcntl(STDOUT, F_SETFL, $f | O_NONBLOCK) or die; exec @ARGV or die "exec: $!"'
  const quote = (a: string) => `'${a.replaceAll("'", "'\\''")}'`
  const command = ['perl', '-e', perl, process.execPath, BIN, ...args].map(quote).join(' ')
  return new Promise((resolve) => {
    const child = spawn('sh', ['-c', `{ ${command}; echo "exit $?" >&2; } | { sleep 0.5; cat; }`], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env['PATH'] ?? '', NO_COLOR: '1' },
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => {
      stdout += String(d)
    })
    child.stderr.on('data', (d) => {
      stderr += String(d)
    })
    child.once('close', () => resolve({ stdout, stderr }))
  })
}

describe('output into a slow pipe left non-blocking arrives whole and in order', () => {
  it.each(['completion fish', 'completion zsh'])('mandate %s (more than the pipe holds)', async (line) => {
    const args = line.split(' ')
    const expected = mandate(args).stdout
    expect(expected.length).toBeGreaterThan(3 * 4096)
    const r = await intoSlowNonBlockingPipe(args)
    expect(r.stderr).toBe('exit 0\n')
    expect(r.stdout).toBe(expected)
  })
})

/**
 * `mandate ARGS` on a terminal: `script` (util-linux) gives it a pseudo-terminal as stdin and
 * stdout, `columns` wide when given.
 */
function onTerminal(args: readonly string[], env: Record<string, string> = {}, columns?: number): { code: number | null; output: string } {
  const quote = (a: string) => `'${a.replaceAll("'", "'\\''")}'`
  const line = [process.execPath, BIN, ...args].map(quote).join(' ')
  const r = spawnSync('script', ['-qec', columns === undefined ? line : `stty cols ${columns}; ${line}`, '/dev/null'], {
    encoding: 'utf8',
    env: { PATH: process.env['PATH'] ?? '', ...env },
    timeout: 30_000,
  })
  return { code: r.status, output: r.stdout }
}

describe('a terminal is told from a pipe, a file and /dev/null (a character device that is not one)', () => {
  it.skipIf(!has('script'))('a terminal on stdin: verify without a token says none was given; on stdout: colors', () => {
    const none = onTerminal(['verify'])
    expect(none.code).toBe(2)
    expect(none.output).toContain('mandate: error: no token given')
    const token = join(dir, 'colors.txt')
    writeFileSync(token, mandate(['mint', '--key', key('alice'), '--action', 'x', '--expires', '1h']).stdout)
    expect(onTerminal(['inspect', token], { TERM: 'xterm-256color' }).output).toContain('\x1b[')
    expect(onTerminal(['inspect', token], { TERM: 'xterm-256color', NO_COLOR: '1' }).output).not.toContain('\x1b[')
    const piped = spawnSync(process.execPath, [BIN, 'inspect', token], {
      encoding: 'utf8',
      env: { PATH: process.env['PATH'] ?? '', TERM: 'xterm-256color' },
    })
    expect([piped.status, piped.stdout]).toEqual([0, expect.not.stringContaining('\x1b[')])
  })
  it('/dev/null and an empty pipe on stdin are read (and found empty)', () => {
    const devNull = spawnSync(process.execPath, [BIN, 'verify'], { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' })
    expect([devNull.status, devNull.stderr]).toEqual([2, expect.stringContaining('mandate: error: no token on standard input')])
    const pipe = mandate(['verify'], { input: '' })
    expect([pipe.code, pipe.stderr]).toEqual([2, expect.stringContaining('mandate: error: no token on standard input')])
  })
})

describe('a standard stream that cannot be written (/dev/full)', () => {
  const full = (args: string[], fd: 1 | 2) => {
    const out = openSync('/dev/full', 'w')
    try {
      const stdio: ['pipe', number | 'pipe', number | 'pipe'] = fd === 1 ? ['pipe', out, 'pipe'] : ['pipe', 'pipe', out]
      return spawnSync(process.execPath, [BIN, ...args], {
        stdio,
        encoding: 'utf8',
        env: { PATH: process.env['PATH'] ?? '', NO_COLOR: '1' },
      })
    } finally {
      closeSync(out)
    }
  }
  it.skipIf(!existsSync('/dev/full'))('standard error: the exit code still says how the command ended (usage 2, rejected token 2)', () => {
    expect(full(['bogus'], 2).status).toBe(2)
    expect(full(['verify', 'garbage'], 2).status).toBe(2)
    expect(full(['--version'], 2).status).toBe(0)
  })
  it.skipIf(!existsSync('/dev/full'))('standard output: an operational failure (exit 3), said on standard error', () => {
    const r = full(['completion', 'bash'], 1)
    expect(r.status).toBe(3)
    expect(r.stderr).toMatch(/^mandate: error: .*ENOSPC/)
  })
})

/** The command paths the root help lists, and the subcommands of groups. */
function commandPaths(): string[][] {
  const list = (args: string[]) =>
    (mandate([...args, '--help']).stdout.split('Commands:\n')[1] ?? '')
      .split('\n')
      .map((l) => /^ {2}([a-z][a-z-]*)/.exec(l)?.[1])
      .filter((n): n is string => n !== undefined && n !== 'help')
  return list([]).flatMap((name) => {
    const subs = list([name])
    return [[name], ...subs.map((s) => [name, s])]
  })
}

describe('help', () => {
  it('every command and subcommand has examples in its --help', () => {
    const paths = commandPaths()
    expect(paths.map((p) => p.join(' '))).toEqual(
      expect.arrayContaining(['keygen', 'mint', 'verify', 'approvals', 'approvals list', 'approvals request', 'completion', 'demo']),
    )
    expect(paths.length).toBeGreaterThanOrEqual(17)
    for (const path of paths) {
      const r = mandate([...path, '--help'])
      expect(r.code, path.join(' ')).toBe(0)
      expect(r.stdout, path.join(' ')).toContain(`\nExamples:\n  $ `)
      const examples = r.stdout.split('\nExamples:\n')[1] ?? ''
      expect(examples, path.join(' ')).toContain(`mandate ${path.join(' ')}`)
    }
  })

  it('into a pipe, --help (and verify) never make process.stdout or process.stderr; on a terminal, help wraps to its width', () => {
    // Loaded before the command: says on fd 2 whenever either stream is made.
    const trap = join(dir, 'trap-streams.cjs')
    writeFileSync(
      trap,
      `for (const name of ['stdout', 'stderr']) {
  const d = Object.getOwnPropertyDescriptor(process, name)
  Object.defineProperty(process, name, { configurable: true, enumerable: d.enumerable, get() { require('node:fs').writeSync(2, 'made process.' + name + '\\n'); return d.get.call(process) } })
}\n`,
    )
    const token = join(dir, 'trap.txt')
    writeFileSync(token, mandate(['mint', '--key', key('alice'), '--action', 'x', '--expires', '1h']).stdout)
    const run = (args: string[]) =>
      spawnSync(process.execPath, ['--require', trap, BIN, ...args], { encoding: 'utf8', env: { PATH: process.env['PATH'] ?? '' } })
    for (const args of [['--help'], ['mint', '--help'], ['verify', token, '--root', alice, '--audience', 'svc', '--action', 'x']]) {
      const r = run(args)
      expect([r.status, r.stderr], args.join(' ')).toEqual([0, ''])
      expect(r.stdout.length, args.join(' ')).toBeGreaterThan(40)
    }
    // The trap itself works.
    const touched = spawnSync(process.execPath, ['--require', trap, '-e', "process.stdout.write('x')"], { encoding: 'utf8' })
    expect([touched.stdout, touched.stderr]).toEqual(['x', 'made process.stdout\n'])
    if (!has('script')) return
    const sized = (columns: number) => onTerminal(['mint', '--help'], {}, columns).output
    // The options' descriptions wrap; the examples after them are printed as they are.
    const longest = (text: string) => Math.max(...(text.split('Examples:')[0] ?? '').split(/\r?\n/).map((l) => l.length))
    expect(longest(sized(80))).toBeLessThanOrEqual(80)
    expect(longest(sized(200))).toBeGreaterThan(100)
  })
})

/** Complete the line $2 with the bash script $1, as bash would on a Tab. */
const COMPLETE_IN_BASH = `source "$1"; read -ra COMP_WORDS <<< "$2"; [[ $2 == *" " ]] && COMP_WORDS+=(""); COMP_CWORD=$((\${#COMP_WORDS[@]} - 1)); _mandate_completion; printf "%s\\n" "\${COMPREPLY[@]}"`

describe('completion', () => {
  const script = (shell: string) => {
    const r = mandate(['completion', shell])
    expect([r.code, r.stderr], shell).toEqual([0, ''])
    return r.stdout
  }

  it('bash: the script parses (bash -n) and completes commands, subcommands, options and their values', () => {
    const file = join(dir, 'mandate.bash')
    writeFileSync(file, script('bash'))
    expect(spawnSync('bash', ['-n', file]).status).toBe(0)
    const complete = (line: string): string[] => {
      const r = spawnSync('bash', ['-c', COMPLETE_IN_BASH, 'bash', file, line], { encoding: 'utf8' })
      expect(r.stderr).toBe('')
      return r.stdout.split('\n').filter(Boolean)
    }
    expect(complete('mandate mi')).toEqual(['mint'])
    expect(complete('mandate ver')).toEqual(['verify'])
    expect(complete('mandate approvals ')).toEqual(expect.arrayContaining(['list', 'show', 'request']))
    expect(complete('mandate approvals list --k')).toEqual(['--key'])
    expect(complete('mandate mint --allow')).toEqual(['--allow-all-actions'])
    expect(complete('mandate pubkey --format ')).toEqual(['did', 'hex', 'pem'])
    expect(complete('mandate serve --log-level w')).toEqual(['warn'])
    expect(complete('mandate --timeout 5 ins')).toEqual(['inspect'])
    expect(complete('mandate completion ')).toEqual(expect.arrayContaining(['bash', 'zsh', 'fish']))
    expect(complete('mandate verify --sk')).toEqual(['--skew'])
  })

  it.skipIf(!has('zsh'))('zsh: the script parses (zsh -n) and defines its functions when sourced', () => {
    const file = join(dir, '_mandate')
    writeFileSync(file, script('zsh'))
    expect(spawnSync('zsh', ['-n', file]).status).toBe(0)
    const r = spawnSync(
      'zsh',
      ['-f', '-c', `autoload -U compinit; compinit -u -D; source ${file}; whence -w _mandate _mandate_approvals_list _mandate_mint`],
      { encoding: 'utf8' },
    )
    expect(r.stderr).toBe('')
    expect(r.stdout).toBe('_mandate: function\n_mandate_approvals_list: function\n_mandate_mint: function\n')
  })

  it.skipIf(!has('fish'))('fish: the script parses (fish -n) and completes (complete -C)', () => {
    const file = join(dir, 'mandate.fish')
    writeFileSync(file, script('fish'))
    expect(spawnSync('fish', ['-n', file]).status).toBe(0)
    const complete = (line: string) =>
      spawnSync('fish', ['-c', `source ${file}; complete -C '${line}'`], { encoding: 'utf8' })
        .stdout.split('\n')
        .filter(Boolean)
        .map((l) => l.split('\t')[0])
    expect(complete('mandate mi')).toEqual(['mint'])
    expect(complete('mandate approvals ')).toEqual(['list', 'request', 'show'])
    expect(complete('mandate mint --allow')).toEqual(['--allow-all-actions'])
    expect(complete('mandate pubkey --format ')).toEqual(['did', 'hex', 'pem'])
  })

  it('an unknown or missing shell is a usage error that names the shells', () => {
    const r = mandate(['completion', 'tcsh'])
    expect(r.code).toBe(2)
    expect(r.stderr).toBe(
      'mandate: error: completion: unknown shell "tcsh"\nmandate: hint: give one of bash, zsh, fish: mandate completion bash\n',
    )
    expect(mandate(['completion']).code).toBe(2)
  })
})

describe('verify --skew', () => {
  it('tolerates the given clock difference: default 60s, --skew 0 none, out of range refused', () => {
    const m = mandate(['mint', '--key', key('alice'), '--action', 'x', '--expires', '1h', '--json']).json<{ mandate: string }>().mandate
    const expires = mandate(['inspect', '--json', m]).json<{ expires: number }>().expires
    const at = (extra: string[], seconds: number) =>
      mandate(['verify', '--root', alice, '--audience', 'svc', '--action', 'x', '--at', String(expires + seconds), '--json', ...extra], {
        input: m,
      })
    expect(at([], 30).code).toBe(0)
    const strict = at(['--skew', '0'], 30)
    expect([strict.code, strict.json<{ code: string }>().code]).toEqual([1, 'ERR_TIME_EXPIRED'])
    expect(at(['--skew', '300'], 200).code).toBe(0)
    expect(at([], 200).code).toBe(1)
    for (const bad of ['301', '-1', 'x', '1.5']) {
      const r = at(['--skew', bad], 0)
      expect(r.code, bad).toBe(2)
      expect(r.json<{ error: { message: string } }>().error.message, bad).toContain('--skew: expected whole seconds from 0 to 300')
    }
  })
})
