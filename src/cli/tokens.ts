/**
 * Token arguments: read one, say plainly when it is not a token (or not the kind a command
 * takes), and when a token fails to decode, say whether it looks truncated, wrapped or edited.
 *
 * @module
 */

import type { KeyPair } from '../crypto/keys.js'
import { MandateError, type MandateErrorCode } from '../errors.js'
import { parseApproval, type UnverifiedApproval } from '../token/approval.js'
import { parseInvocation, type UnverifiedInvocation } from '../token/invocation.js'
import { parseMandate, type UnverifiedMandate } from '../token/mandate.js'
import { kindOf, PREFIXES, type TokenKind } from '../token/text.js'
import { usage } from './errors.js'
import { type Input, type Io, loadKey, readInput } from './io.js'

const NAMES: Record<TokenKind, string> = {
  mandate: 'a mandate',
  invocation: 'an invocation',
  approval: 'an approval',
  revocation: 'a revocation',
}

/** A token read from an argument, of a kind the command takes. */
export interface TokenInput extends Input {
  readonly kind: TokenKind
}

/** "a mandate (mnd1_…) or an invocation (mni1_…)". */
function kinds(list: readonly TokenKind[]): string {
  const named = list.map((k) => `${NAMES[k]} (${PREFIXES[k]}…)`)
  return named.length <= 1 ? (named[0] ?? '') : `${named.slice(0, -1).join(', ')} or ${named[named.length - 1]}`
}

/** The start of a text that is not a token: short, since a mistyped token may be a secret. */
function opening(text: string): string {
  return JSON.stringify(text.length > 12 ? `${text.slice(0, 12)}…` : text)
}

/**
 * That no file has the name given, naming it only when it cannot be a token pasted with
 * something around it (`Mandate mnd1_…`, a stray character before it), which may be a secret.
 */
function noSuchFile(name: string): string {
  const lower = name.toLowerCase()
  if (name.length > 200 || Object.values(PREFIXES).some((prefix) => lower.includes(prefix))) {
    return 'and no file has that name (not shown: it holds what looks like a token, which may be a secret)'
  }
  return `there is no file named ${JSON.stringify(name)}`
}

/** A known prefix the text nearly starts with (another case, a dash, one letter off or swapped). */
function nearPrefix(text: string): string | undefined {
  const head = text.slice(0, 5).toLowerCase().replace('-', '_')
  for (const prefix of Object.values(PREFIXES)) {
    if (head === prefix) return prefix
    const diff = [...prefix].filter((c, i) => head[i] !== c).length
    const swapped = [...head].sort().join('') === [...prefix].sort().join('')
    if (diff <= 1 || swapped) return prefix
  }
  return undefined
}

function notAToken(input: Input, accepted: readonly TokenKind[], command: string): never {
  const message = `not ${kinds(accepted)}: ${input.from} starts with ${opening(input.text)}`
  const unquoted = input.text.replace(/^["'`]+/, '')
  const near = nearPrefix(input.text)
  const hint =
    unquoted !== input.text && kindOf(unquoted)
      ? 'remove the quotes around the token'
      : near
        ? `did you mean ${near}…? token texts start with ${Object.values(PREFIXES).join(', ')} (lower case)`
        : `${command} takes ${kinds(accepted)}: the text, @FILE, a file path, or - for standard input${
            input.notAFile === undefined ? '' : `; ${noSuchFile(input.notAFile)}`
          }`
  throw new MandateError('ERR_TEXT_FORMAT', message, { hint })
}

function otherKind(kind: TokenKind, accepted: readonly TokenKind[], command: string): never {
  const hint =
    kind === 'approval' && command === 'verify'
      ? 'verify takes the invocation; pass the approval with --approval TEXT|@FILE'
      : `${command} takes ${kinds(accepted)}`
  throw new MandateError('ERR_TEXT_FORMAT', `this is ${NAMES[kind]} (${PREFIXES[kind]}…), not ${kinds(accepted)}`, { hint })
}

/**
 * Read a token argument (text, @FILE, a path, or stdin) and check that it is one of the kinds
 * `command` takes: garbage is "not a token" (ERR_TEXT_FORMAT, exit 2), never a later puzzle.
 */
export async function readToken(io: Io, arg: string | undefined, accepted: readonly TokenKind[], command: string): Promise<TokenInput> {
  const input = await readInput(io, arg, accepted.length === 1 ? (accepted[0] as string) : 'token')
  return { ...input, kind: tokenKind(input, accepted, command) }
}

/** The kind of an input that must be one of `accepted`. */
export function tokenKind(input: Input, accepted: readonly TokenKind[], command: string): TokenKind {
  const kind = kindOf(input.text)
  if (kind === undefined) notAToken(input, accepted, command)
  if (!accepted.includes(kind)) otherKind(kind, accepted, command)
  return kind
}

/** Whether `code` says a token text with the right prefix is damaged: its text form, CBOR or shape. */
const damaged = (code: MandateErrorCode) => code === 'ERR_TEXT_FORMAT' || code === 'ERR_FORMAT' || code.startsWith('ERR_CBOR_')

const TRUNCATED = 'it looks truncated: the text ends in the middle of a token; copy the whole token (several hundred characters)'

/** Why a token text with the right prefix does not decode, in words a person can act on. */
export function damageHint(text: string, e: MandateError): string | undefined {
  const trimmed = text.trim()
  const kind = kindOf(trimmed)
  const start = kind === undefined ? 0 : PREFIXES[kind].length
  const bad = /[^A-Za-z0-9_-]/.exec(trimmed.slice(start))
  if (bad) {
    const ch = bad[0]
    const what = /\s/.test(ch) ? 'a line break or space' : JSON.stringify(ch)
    return `the token text has ${what} at character ${bad.index + start + 1}, which no token has: was it wrapped, quoted or edited when copied?`
  }
  if (e.code === 'ERR_TEXT_FORMAT') return TRUNCATED
  if (/end of input|exceeds the input/.test(e.message)) return TRUNCATED
  return e.hint ?? 'the token is damaged: was it truncated or edited when copied?'
}

/** Run a parse of `input`; a damaged text fails with a hint that says how it looks damaged. */
export function parsed<T>(input: Pick<Input, 'text'>, parse: (text: string) => T): T {
  try {
    return parse(input.text)
  } catch (e) {
    if (!(e instanceof MandateError) || !damaged(e.code)) throw e
    const hint = damageHint(input.text, e)
    throw new MandateError(e.code, e.message, {
      cause: e,
      ...(hint === undefined ? {} : { hint }),
      ...(e.block === undefined ? {} : { block: e.block }),
      ...(e.offset === undefined ? {} : { offset: e.offset }),
    })
  }
}

/** A mandate argument, parsed (not verified). */
export async function readMandate(io: Io, arg: string | undefined, command: string): Promise<UnverifiedMandate> {
  return parsed(await readToken(io, arg, ['mandate'], command), parseMandate)
}

/**
 * The key that signs as `m`'s holder: the key file of `--key` (or MANDATE_KEY) for a bound
 * mandate; none for a bearer or sealed one, whose own secret signs (or nothing can). A `--key`
 * given with a bearer mandate is not used, and `unused` is told so: whoever gave it meant that
 * key to sign, and a bearer secret signing in its place would otherwise pass without a word.
 * MANDATE_KEY alone is not reported: it stays set for the bound mandates it is meant for.
 */
export function holderKey(io: Io, m: UnverifiedMandate, flag: string | undefined, unused: (message: string) => void): KeyPair | undefined {
  if (m.proof.kind === 'bound') return loadKey(io, flag)
  if (flag !== undefined && m.proof.kind === 'bearer') {
    unused('--key is not used: this is a bearer mandate, and the secret it carries signs as its holder')
  }
  return undefined
}

/** An invocation argument, parsed (not verified). */
export async function readInvocation(io: Io, arg: string | undefined, command: string): Promise<UnverifiedInvocation> {
  return parsed(await readToken(io, arg, ['invocation'], command), parseInvocation)
}

/** An approval given as text, @FILE or a path (verify --approval), parsed to check it and kept as text. */
export async function readApproval(io: Io, arg: string): Promise<string> {
  if (arg === '-') usage('--approval -: standard input is for the token', 'pass the approval as text, @FILE or a file path')
  const input = await readInput(io, arg, 'approval')
  tokenKind(input, ['approval'], 'verify --approval')
  parsed<UnverifiedApproval>(input, parseApproval)
  return input.text
}
