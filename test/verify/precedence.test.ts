/**
 * Which failure is reported when several apply (spec §7.3, §5.1, §5.5, §6): unit tests for
 * the rules the `precedence/…` vectors pin, at the level of the functions that implement them.
 */
import { describe, expect, it } from 'vitest'
import { caveatName, decodeCaveat } from '../../src/caveats/codec.js'
import type { CborValue } from '../../src/cbor/codec.js'
import { decodeCbor, encodeCbor } from '../../src/cbor/codec.js'
import { validateCbor } from '../../src/cbor/validate.js'
import { getBackend } from '../../src/crypto/ed25519.js'
import {
  createMemoryRevocationView,
  formatMandate,
  invoke,
  MandateError,
  parseInvocation,
  parseMandate,
  toDidKey,
} from '../../src/index.js'
import { signingInput } from '../../src/token/signing.js'
import { fromText, kindOf, toText } from '../../src/token/text.js'
import { assistant, bearerChild, denial, mallory, rootGrant, verifierFor } from '../helpers/chains.js'
import { hex, T0, thrownCode } from '../helpers/fixtures.js'

const read = { action: 'slack:read' }

describe('caveat frame, type and name (spec §6)', () => {
  it.each([
    ['not a list', 5 as CborValue, 'invalid', 'unknown'],
    ['empty', [] as CborValue, 'invalid', 'unknown'],
    ['text type', ['actions', ['*']] as CborValue, 'invalid', 'unknown'],
    ['negative type', [-1] as CborValue, 'invalid', 'unknown'],
    ['three elements, reserved type', [11, 1, 2] as CborValue, 'invalid', 'unknown'],
    ['three elements, known type', [1, ['*'], 2] as CborValue, 'invalid', 'actions'],
    ['three elements, extension', [70000, 1, 2] as CborValue, 'invalid', 'extension'],
    ['reserved type', [11] as CborValue, 'unknown', 'unknown'],
    ['type 0', [0, 1] as CborValue, 'unknown', 'unknown'],
    ['malformed where', [7, 'x'] as CborValue, 'invalid', 'where'],
    ['bound with a body', [10, 0] as CborValue, 'invalid', 'bound'],
    ['extension', [70000, 'x'] as CborValue, 'extension', 'extension'],
    ['actions', [1, ['*']] as CborValue, 'actions', 'actions'],
  ])('%s', (_, raw, type, name) => {
    const c = decodeCaveat(raw)
    expect(c.type).toBe(type)
    expect(caveatName(c)).toBe(name)
  })
})

describe('text forms (spec §5.5)', () => {
  const text = formatMandate(bearerChild([]))

  it('ignores exactly space, tab, CR and LF around the text', () => {
    expect(parseMandate(` \t\r\n${text}\n`).bytes).toEqual(parseMandate(text).bytes)
    expect(kindOf(`\n${text}`)).toBe('mandate')
  })

  it.each(['\u00a0', '\u2003', '\ufeff', '\u000b', '\u000c'])('keeps %j, which then fails', (ch) => {
    expect(thrownCode(() => fromText('mandate', `${text}${ch}`))).toBe('ERR_TEXT_FORMAT')
    expect(thrownCode(() => fromText('mandate', `${ch}${text}`))).toBe('ERR_TEXT_FORMAT')
    expect(kindOf(`${ch}${text}`)).toBeUndefined()
  })

  it('reads the prefix, then the length, then base64url', () => {
    expect(thrownCode(() => fromText('mandate', `mnr1_${'!'.repeat(30000)}`))).toBe('ERR_TEXT_FORMAT')
    expect(thrownCode(() => fromText('mandate', `MND1_${text.slice(5)}`))).toBe('ERR_TEXT_FORMAT')
    expect(thrownCode(() => fromText('mandate', `mnd1_${'!'.repeat(21847)}`))).toBe('ERR_LIMIT_SIZE')
    expect(thrownCode(() => fromText('mandate', `mnd1_${'!'.repeat(21846)}`))).toBe('ERR_TEXT_FORMAT')
  })

  it('a verifier reads mandate bytes under mni1_ as an invocation, and refuses mna1_ and mnr1_', async () => {
    const bytes = parseMandate(text).bytes
    const v = verifierFor()
    expect(denial(await v.authorize({ token: toText('invocation', bytes), request: read })).code).toBe('ERR_FORMAT')
    expect(denial(await v.authorize({ token: toText('approval', bytes), request: read })).code).toBe('ERR_TEXT_FORMAT')
    expect(denial(await v.authorize({ token: toText('revocation', bytes), request: read })).code).toBe('ERR_TEXT_FORMAT')
    expect(denial(await v.authorize({ mandate: toText('invocation', bytes), request: read })).code).toBe('ERR_TEXT_FORMAT')
  })
})

describe('CBOR head rules in order (spec §5.1)', () => {
  it.each([
    ['1900', 'ERR_CBOR_MALFORMED', 'argument bytes missing'],
    ['1c', 'ERR_CBOR_MALFORMED', 'reserved additional information'],
    ['a21800010002', 'ERR_CBOR_NONCANONICAL', 'non-minimal key before the duplicate'],
    ['a178016100', 'ERR_CBOR_NONCANONICAL', 'non-minimal text key head before the key type'],
    ['a1616100', 'ERR_CBOR_TYPE', 'text key'],
    ['5a00000005', 'ERR_CBOR_NONCANONICAL', 'non-minimal before beyond the input'],
    ['79040161', 'ERR_CBOR_MALFORMED', 'beyond the input before over the text limit'],
    ['984100', 'ERR_LIMIT_COUNT', 'entry limit before beyond the input'],
    [`${'81'.repeat(16)}9841`, 'ERR_LIMIT_DEPTH', 'depth before the entry limit'],
    ['f815', 'ERR_CBOR_TYPE', 'a two-byte simple value'],
    ['f93c00', 'ERR_CBOR_TYPE', 'a half float'],
    ['1b0020000000000000', 'ERR_CBOR_TYPE', '2^53'],
  ])('%s → %s (%s)', (h, code) => {
    expect(thrownCode(() => validateCbor(hex(h)))).toBe(code)
  })
})

describe('structure, outside in (spec §7.3)', () => {
  const m = bearerChild([])
  const [p0, p1] = m.blocks.map((b) => [b.payload, b.signature] as [Uint8Array, Uint8Array]) as [
    [Uint8Array, Uint8Array],
    [Uint8Array, Uint8Array],
  ]
  const proof: CborValue = m.proof.kind === 'bearer' ? [0, m.proof.secret] : [2]
  const mandate = (entries: [number, CborValue][]) => encodeCbor(new Map(entries))
  const located = (f: () => unknown) => {
    try {
      f()
    } catch (e) {
      if (e instanceof MandateError) return { code: e.code, block: e.block }
      throw e
    }
    return { code: 'ok', block: undefined }
  }

  it('version first, then unknown keys', () => {
    const chain = [p0, p1].map((p) => [...p])
    expect(
      thrownCode(() =>
        parseMandate(
          mandate([
            [1, chain],
            [2, proof],
            [3, 'x'],
          ]),
        ),
      ),
    ).toBe('ERR_VERSION')
    expect(
      thrownCode(() =>
        parseMandate(
          mandate([
            [0, 2],
            [1, chain],
            [2, proof],
            [3, 'x'],
          ]),
        ),
      ),
    ).toBe('ERR_VERSION')
  })

  it('a block signature length before its payload; block 0 before block 1', () => {
    const wide = (b: Uint8Array) => Uint8Array.of(0xb8, (b[0] as number) & 0x1f, ...b.subarray(1))
    const chain = (a: [Uint8Array, Uint8Array], b: [Uint8Array, Uint8Array]) => [[...a], [...b]]
    expect(
      located(() =>
        parseMandate(
          mandate([
            [0, 1],
            [1, chain(p0, [wide(p1[0]), p1[1].subarray(0, 63)])],
            [2, proof],
          ]),
        ),
      ),
    ).toEqual({
      code: 'ERR_SIG_LENGTH',
      block: 1,
    })
    expect(
      located(() =>
        parseMandate(
          mandate([
            [0, 1],
            [1, chain([wide(p0[0]), p0[1]], [p1[0], p1[1].subarray(0, 63)])],
            [2, proof],
          ]),
        ),
      ),
    ).toEqual({
      code: 'ERR_CBOR_NONCANONICAL',
      block: 0,
    })
  })

  it('prev missing before principal, unknown keys before both', () => {
    const fields = new Map(decodeCbor(p1[0]) as Map<number, CborValue>)
    fields.delete(0)
    const withPrincipal = new Map(fields).set(8, m.blocks[0]?.principal as Uint8Array)
    const withUnknown = new Map(fields).set(9, 'x')
    const at = (payload: Map<number, CborValue>) =>
      located(() =>
        parseMandate(
          mandate([
            [0, 1],
            [1, [[...p0], [encodeCbor(payload), p1[1]]]],
            [2, proof],
          ]),
        ),
      )
    expect(at(fields)).toEqual({ code: 'ERR_CHAIN_LINK', block: 1 })
    expect(at(withPrincipal)).toEqual({ code: 'ERR_CHAIN_LINK', block: 1 })
    expect(at(withUnknown)).toEqual({ code: 'ERR_FORMAT', block: 1 })
  })
})

describe('verifier precedence (spec §7.3)', () => {
  it('an invocation signed by another key is ERR_SIG_INVALID at the last block', async () => {
    for (const [m, key, last] of [
      [rootGrant(), mallory, 0],
      [bearerChild([]), assistant, 1],
    ] as const) {
      const inv = invoke(m, {
        action: 'slack:read',
        audience: 'svc',
        now: T0 + 60,
        ...(m.proof.kind === 'bound' ? { key: assistant } : {}),
      })
      const forged = encodeCbor([inv.payload, getBackend().sign(key.secretKey, signingInput('invocation', inv.payload))])
      expect(parseInvocation(forged).action).toBe('slack:read')
      const d = denial(await verifierFor().authorize({ invocation: forged }))
      expect({ code: d.code, block: d.block }).toEqual({ code: 'ERR_SIG_INVALID', block: last })
    }
  })

  it('a revocation is reported before a suspension of the same block, in any listed order', async () => {
    const m = bearerChild([])
    const [id0, id1] = m.blocks.map((b) => b.idHex) as [string, string]
    for (const order of [
      ['suspend', 'revoke'],
      ['revoke', 'suspend'],
    ] as const) {
      const view = createMemoryRevocationView()
      for (const kind of order) view[kind](id1)
      const d = denial(await verifierFor({ revocations: view }).authorize({ mandate: formatMandate(m), request: read }))
      expect({ code: d.code, block: d.block }).toEqual({ code: 'ERR_REVOKED', block: 1 })
    }
    const view = createMemoryRevocationView()
    view.revoke(id1)
    view.suspend(id0)
    const d = denial(await verifierFor({ revocations: view }).authorize({ mandate: formatMandate(m), request: read }))
    expect({ code: d.code, block: d.block }).toEqual({ code: 'ERR_SUSPENDED', block: 0 })
  })

  it('an unregistered extension is unknown at step 9a, before any request caveat', async () => {
    const m = bearerChild([{ type: 'extension', code: 70000 }], [{ type: 'actions', patterns: ['email:read'] }])
    const d = denial(await verifierFor().authorize({ mandate: formatMandate(m), request: read }))
    expect({ code: d.code, block: d.block, caveat: d.caveat, caveatIndex: d.caveatIndex }).toEqual({
      code: 'ERR_CAVEAT_UNKNOWN',
      block: 1,
      caveat: 'extension',
      caveatIndex: 0,
    })
    const registered = denial(
      await verifierFor({ extensions: { 70000: () => true } }).authorize({ mandate: formatMandate(m), request: read }),
    )
    expect({ code: registered.code, block: registered.block }).toEqual({ code: 'ERR_ACTION_DENIED', block: 0 })
  })

  it('the approvals list is counted before the root is looked up', async () => {
    const v = verifierFor({ roots: [toDidKey(mallory.publicKey)] })
    const m = formatMandate(bearerChild([]))
    expect(denial(await v.authorize({ mandate: m, request: read, approvals: Array(17).fill('mna1_AA') })).code).toBe('ERR_LIMIT_COUNT')
    expect(denial(await v.authorize({ mandate: m, request: read })).code).toBe('ERR_ROOT_UNTRUSTED')
  })
})
