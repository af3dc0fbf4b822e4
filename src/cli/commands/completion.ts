/**
 * `mandate completion bash|zsh|fish`: a completion script made from the program's own commands
 * and options, so that it never lags behind them.
 *
 * @module
 */
import type { Command, Option } from 'commander'
import { type Context, emit } from '../context.js'
import { usage } from '../errors.js'
import { examples } from '../help.js'

const SHELLS = ['bash', 'zsh', 'fish'] as const
type Shell = (typeof SHELLS)[number]

/** Values an option's argument takes, where they are a fixed list. */
const CHOICES: Record<string, readonly string[]> = {
  '--format': ['did', 'hex', 'pem'],
  '--log-level': ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
}

interface OptionSpec {
  readonly short?: string
  readonly long: string
  readonly about: string
  readonly value: 'none' | 'file' | 'text' | 'choice'
  readonly repeatable: boolean
}

interface CommandSpec {
  readonly name: string
  readonly about: string
  readonly options: readonly OptionSpec[]
  readonly subcommands: readonly CommandSpec[]
  /** Operands are files (token arguments), or a fixed list. */
  readonly operands: 'none' | 'files' | readonly string[]
}

/** The first clause of a description: short, and free of the characters shells care about. */
function about(text: string): string {
  return (text.split(/[:;(]/)[0] ?? '').replace(/[[\]`$\\'"]/g, '').trim()
}

function optionSpec(o: Option): OptionSpec {
  const takes = o.required || o.optional
  const long = o.long ?? o.short ?? ''
  const value = !takes ? 'none' : CHOICES[long] ? 'choice' : /<(file|keyfile|path\|url)>/.test(o.flags) ? 'file' : 'text'
  return {
    ...(o.short && o.long ? { short: o.short } : {}),
    long,
    about: about(o.description),
    value,
    repeatable: o.variadic || /repeatable/.test(o.description),
  }
}

const HELP: OptionSpec = { short: '-h', long: '--help', about: 'show help', value: 'none', repeatable: false }

/** The program as data: commands, options, operands. */
export function describeProgram(cmd: Command): CommandSpec {
  const args = cmd.registeredArguments
  return {
    name: cmd.name(),
    about: about(cmd.description()),
    options: [...cmd.options.filter((o) => !o.hidden).map(optionSpec), HELP],
    subcommands: cmd.commands.map(describeProgram),
    operands: cmd.name() === 'completion' ? SHELLS : args.length > 0 ? 'files' : 'none',
  }
}

/** Every command, as its path of names ("approvals list"), depth first. */
function walk(spec: CommandSpec, path: readonly string[] = []): { path: readonly string[]; spec: CommandSpec }[] {
  return spec.subcommands.flatMap((s) => [{ path: [...path, s.name], spec: s }, ...walk(s, [...path, s.name])])
}

const flags = (o: OptionSpec) => [...(o.short ? [o.short] : []), o.long]

function bash(root: CommandSpec): string {
  const all = [{ path: [] as readonly string[], spec: root }, ...walk(root)]
  const options = all.flatMap((c) => c.spec.options)
  const byValue = (v: OptionSpec['value']) => [...new Set(options.filter((o) => o.value === v).flatMap(flags))].join('|') || '--'
  const groups = all.filter((c) => c.spec.subcommands.length > 0 && c.path.length > 0).map((c) => c.path.join(' '))
  const rootValues = root.options.filter((o) => o.value !== 'none').flatMap(flags)
  const words = (c: CommandSpec) =>
    [...c.subcommands.map((s) => s.name), ...(Array.isArray(c.operands) ? c.operands : []), ...c.options.flatMap(flags)].join(' ')
  const cases = all.map((c) => `    "${c.path.join(' ')}") words="${words(c.spec)}" ;;`).join('\n')
  const choices = Object.entries(CHOICES)
    .map(([flag, values]) => `    ${flag}) COMPREPLY=($(compgen -W "${values.join(' ')}" -- "$cur")); return ;;`)
    .join('\n')
  return `# mandate completion for bash. Load it now:  source <(mandate completion bash)
# or for every shell:  mandate completion bash > ~/.local/share/bash-completion/completions/mandate
_mandate_completion() {
  local cur=\${COMP_WORDS[COMP_CWORD]} prev=\${COMP_WORDS[COMP_CWORD-1]}
  local cmd="" groups=" ${groups.join(' ')} " words="" i w
  for ((i = 1; i < COMP_CWORD; i++)); do
    w=\${COMP_WORDS[i]}
    case $w in
      ${rootValues.length ? `${rootValues.join('|')}) ((i++)); continue ;;` : ''}
      -*) continue ;;
    esac
    cmd=\${cmd:+$cmd }$w
    [[ $groups == *" $cmd "* ]] || break
  done
  case $prev in
${choices}
    ${byValue('file')}) COMPREPLY=($(compgen -f -- "$cur")); return ;;
    ${byValue('text')}) COMPREPLY=(); return ;;
  esac
  case $cmd in
${cases}
    *) words="" ;;
  esac
  if [[ $cur == -* || $groups == *" $cmd "* || -z $cmd || $cmd == completion ]]; then
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
  else
    COMPREPLY=($(compgen -f -- "$cur"))
  fi
}
complete -o default -F _mandate_completion mandate
`
}

const zq = (s: string) => s.replace(/'/g, "'\\''")

function zshOption(o: OptionSpec): string {
  const star = o.repeatable ? '*' : ''
  const action = o.value === 'file' ? ':file:_files' : o.value === 'choice' ? `:value:(${CHOICES[o.long]?.join(' ')})` : ':value: '
  const arg = o.value === 'none' ? '' : action
  const joined = (f: string) => (o.value === 'none' ? '' : f.startsWith('--') ? '=' : '+')
  return flags(o)
    .map((f) => `'${star}${f}${joined(f)}[${zq(o.about)}]${arg}'`)
    .join(' ')
}

function zshFunction(name: string, spec: CommandSpec): string[] {
  const options = spec.options.map(zshOption).join(' \\\n    ')
  if (spec.subcommands.length === 0) {
    const operands = Array.isArray(spec.operands)
      ? `'1:shell:(${spec.operands.join(' ')})'`
      : spec.operands === 'files'
        ? "'*:file:_files'"
        : ''
    return [`${name}() {`, `  _arguments -s \\\n    ${options}${operands ? ` \\\n    ${operands}` : ''}`, '}']
  }
  const described = spec.subcommands.map((s) => `'${zq(s.name)}:${zq(s.about)}'`).join(' ')
  const dispatch = spec.subcommands.map((s) => `    ${s.name}) ${name}_${s.name.replace(/-/g, '_')} ;;`).join('\n')
  return [
    `${name}() {`,
    '  local curcontext=$curcontext state line',
    '  local -a commands',
    `  _arguments -C \\\n    ${options} \\\n    '1:command:->command' \\\n    '*::arg:->args'`,
    '  case $state in',
    `    command) commands=(${described}); _describe -t commands command commands ;;`,
    '    args)',
    '      case $line[1] in',
    dispatch.replace(/^ {4}/gm, '        '),
    '      esac ;;',
    '  esac',
    '}',
    ...spec.subcommands.flatMap((s) => zshFunction(`${name}_${s.name.replace(/-/g, '_')}`, s)),
  ]
}

function zsh(root: CommandSpec): string {
  return `#compdef mandate
# mandate completion for zsh. Load it now:  source <(mandate completion zsh)
# or save it as _mandate in a directory of $fpath:  mandate completion zsh > ~/.zfunc/_mandate
${zshFunction('_mandate', root).join('\n')}
if [[ $funcstack[1] == _mandate ]]; then _mandate "$@"; else compdef _mandate mandate; fi
`
}

const fq = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`

function fishLines(spec: CommandSpec, path: readonly string[]): string[] {
  // At the top: no command yet. Below: the path seen, and no subcommand of it yet.
  const seen = path.map((p) => `__fish_seen_subcommand_from ${p}`)
  const here = [...(path.length === 0 ? ['__fish_use_subcommand'] : seen)]
  const condition = (extra: string[]) => fq([...here, ...extra].join('; and '))
  const noSub = spec.subcommands.length ? [`not __fish_seen_subcommand_from ${spec.subcommands.map((s) => s.name).join(' ')}`] : []
  const lines: string[] = []
  for (const o of spec.options) {
    const names = `${o.short ? ` -s ${o.short.slice(1)}` : ''} -l ${o.long.slice(2)}`
    const value =
      o.value === 'file'
        ? ' -r -F'
        : o.value === 'choice'
          ? ` -x -a ${fq(CHOICES[o.long]?.join(' ') ?? '')}`
          : o.value === 'text'
            ? ' -x'
            : ''
    lines.push(`complete -c mandate -n ${condition(noSub)}${names}${value} -d ${fq(o.about)}`)
  }
  for (const s of spec.subcommands) lines.push(`complete -c mandate -n ${condition(noSub)} -a ${s.name} -d ${fq(s.about)}`)
  if (Array.isArray(spec.operands)) lines.push(`complete -c mandate -n ${condition([])} -a ${fq(spec.operands.join(' '))}`)
  else if (spec.operands === 'files') lines.push(`complete -c mandate -n ${condition([])} -F`)
  for (const s of spec.subcommands) lines.push(...fishLines(s, [...path, s.name]))
  return lines
}

function fish(root: CommandSpec): string {
  return `# mandate completion for fish. Load it now:  mandate completion fish | source
# or for every shell:  mandate completion fish > ~/.config/fish/completions/mandate.fish
complete -c mandate -f
${fishLines(root, []).join('\n')}
`
}

/** The completion script for `shell`. */
export function completionScript(program: Command, shell: Shell): string {
  const root = describeProgram(program)
  return shell === 'bash' ? bash(root) : shell === 'zsh' ? zsh(root) : fish(root)
}

export function registerCompletion(program: Command, ctx: Context): void {
  const cmd = program
    .command('completion')
    .description('print a shell completion script (bash, zsh or fish)')
    .argument('<shell>', 'bash, zsh or fish')
    .action((shell: string, _opts: unknown, cmd: Command) => {
      if (!(SHELLS as readonly string[]).includes(shell)) {
        usage(`completion: unknown shell ${JSON.stringify(shell)}`, `give one of ${SHELLS.join(', ')}: mandate completion bash`)
      }
      const script = completionScript(program, shell as Shell)
      emit(ctx, cmd, { shell, script }, () => script)
    })
  examples(
    cmd,
    'source <(mandate completion bash)                      # this bash session',
    'mandate completion bash > ~/.local/share/bash-completion/completions/mandate',
    'mandate completion zsh > ~/.zfunc/_mandate            # a directory of $fpath',
    'mandate completion fish > ~/.config/fish/completions/mandate.fish',
  )
}
