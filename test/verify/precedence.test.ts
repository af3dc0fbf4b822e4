/**
 * Which failure is reported when several apply (spec §7.3, §5.1, §5.5, §6): unit tests for
 * the rules the `precedence/…` vectors pin, at the level of the functions that implement them.
 */
import { beforeEach, describe, expect, it } from 'vitest'
import { caveatName, decodeCaveat } from '../../src/caveats/codec.js'
import type { CborValue } from '../../src/cbor/codec.js'
import { encodeCbor } from '../../src/cbor/codec.js'
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
import {
  alice,
  assistant,
  bearerChild,
  denial,
  mallory,
  type Pair,
  pairs,
  rawChain,
  rawSigned,
  rootGrant,
  verifierFor,
  wireBlock,
} from '../helpers/chains.js'
import { fixedKey, hex, T0, thrownCode } from '../helpers/fixtures.js'

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
  const text = () => formatMandate(bearerChild([]))

  it('ignores exactly space, tab, CR and LF around the text', () => {
    expect(parseMandate(` \t\r\n${text()}\n`).bytes).toEqual(parseMandate(text()).bytes)
    expect(kindOf(`\n${text()}`)).toBe('mandate')
  })

  it.each(['\u00a0', '\u2003', '\ufeff', '\u000b', '\u000c'])('keeps %j, which then fails', (ch) => {
    expect(thrownCode(() => fromText('mandate', `${text()}${ch}`))).toBe('ERR_TEXT_FORMAT')
    expect(thrownCode(() => fromText('mandate', `${ch}${text()}`))).toBe('ERR_TEXT_FORMAT')
    expect(kindOf(`${ch}${text()}`)).toBeUndefined()
  })

  it('reads the prefix, then the length, then base64url', () => {
    expect(thrownCode(() => fromText('mandate', `mnr1_${'!'.repeat(30000)}`))).toBe('ERR_TEXT_FORMAT')
    expect(thrownCode(() => fromText('mandate', `MND1_${text().slice(5)}`))).toBe('ERR_TEXT_FORMAT')
    expect(thrownCode(() => fromText('mandate', `mnd1_${'!'.repeat(21847)}`))).toBe('ERR_LIMIT_SIZE')
    expect(thrownCode(() => fromText('mandate', `mnd1_${'!'.repeat(21846)}`))).toBe('ERR_TEXT_FORMAT')
  })

  it('a verifier reads mandate bytes under mni1_ as an invocation, and refuses mna1_ and mnr1_', async () => {
    const bytes = parseMandate(text()).bytes
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
  // Built before each test, not while the module loads (see FIXED_KEYS in fixtures.ts).
  const fixture = () => {
    const m = bearerChild([])
    const [p0, p1] = pairs(m) as [Pair, Pair]
    const secret = m.proof.kind === 'bearer' ? m.proof.secret : new Uint8Array(32)
    return { m, p0, p1, secret, chain: rawChain([p0, p1]) }
  }
  let { m, p0, p1, secret, chain } = {} as ReturnType<typeof fixture>
  beforeEach(() => {
    ;({ m, p0, p1, secret, chain } = fixture())
  })
  const mandate = (elements: CborValue[]) => encodeCbor(elements)
  const located = (f: () => unknown) => {
    try {
      f()
    } catch (e) {
      if (e instanceof MandateError) return { code: e.code, block: e.block }
      throw e
    }
    return { code: 'ok', block: undefined }
  }
  const parsed = (bytes: Uint8Array) => located(() => parseMandate(bytes))

  it('the genuine arrays parse: bearer (3 elements) and bound (2 elements)', () => {
    expect(parsed(mandate([1, chain, secret]))).toEqual({ code: 'ok', block: undefined })
    expect(parseMandate(mandate([1, chain, secret])).bytes).toEqual(m.bytes)
    expect(parseMandate(mandate([1, chain])).proof.kind).toBe('bound')
    expect(parseMandate(mandate([1, chain, new Uint8Array(64)])).proof.kind).toBe('sealed')
  })

  it('version first, then the number of elements', () => {
    expect(parsed(mandate([2, chain, secret, 'x']))).toEqual({ code: 'ERR_VERSION', block: undefined })
    expect(parsed(mandate([chain, secret, 'x']))).toEqual({ code: 'ERR_VERSION', block: undefined })
    expect(parsed(mandate([2]))).toEqual({ code: 'ERR_VERSION', block: undefined })
    expect(parsed(mandate([1, chain, secret, 'x']))).toEqual({ code: 'ERR_FORMAT', block: undefined })
    expect(parsed(mandate([1]))).toEqual({ code: 'ERR_FORMAT', block: undefined })
    expect(parsed(mandate([]))).toEqual({ code: 'ERR_FORMAT', block: undefined })
    // the draft layout, a map {0: 1, 1: chain, 2: proof}
    const draft = encodeCbor(
      new Map<number, CborValue>([
        [0, 1],
        [1, chain],
        [2, [0, secret]],
      ]),
    )
    expect(parsed(draft)).toEqual({ code: 'ERR_FORMAT', block: undefined })
  })

  it('the chain before the proof; the proof by its type, then its length', () => {
    // a block-level failure wins over a bad proof
    expect(parsed(mandate([1, rawChain([p0]).concat([new Uint8Array(64)]), new Uint8Array(31)]))).toEqual({
      code: 'ERR_FORMAT',
      block: 1,
    })
    expect(parsed(mandate([1, chain, new Uint8Array(31)]))).toEqual({ code: 'ERR_PROOF', block: undefined })
    expect(parsed(mandate([1, chain, new Uint8Array(33)]))).toEqual({ code: 'ERR_PROOF', block: undefined })
    expect(parsed(mandate([1, chain, new Uint8Array(0)]))).toEqual({ code: 'ERR_PROOF', block: undefined })
    expect(parsed(mandate([1, chain, new Uint8Array(65)]))).toEqual({ code: 'ERR_PROOF', block: undefined })
    // not a byte string: the draft's [kind, value] proof, a number, a text
    expect(parsed(mandate([1, chain, [0, secret]]))).toEqual({ code: 'ERR_FORMAT', block: undefined })
    expect(parsed(mandate([1, chain, 0]))).toEqual({ code: 'ERR_FORMAT', block: undefined })
    expect(parsed(mandate([1, chain, 'x'.repeat(32)]))).toEqual({ code: 'ERR_FORMAT', block: undefined })
  })

  it('the chain: an array of the principal and at least one block; its principal is 32 bytes; at most 16 blocks', () => {
    const at = (c: CborValue) => parsed(mandate([1, c, secret]))
    expect(at([alice.publicKey])).toEqual({ code: 'ERR_FORMAT', block: undefined })
    expect(at([])).toEqual({ code: 'ERR_FORMAT', block: undefined })
    expect(at(new Map([[0, alice.publicKey]]))).toEqual({ code: 'ERR_FORMAT', block: undefined })
    expect(at([alice.publicKey.subarray(0, 31), wireBlock(p0), wireBlock(p1)])).toEqual({ code: 'ERR_FORMAT', block: undefined })
    expect(at([toDidKey(alice.publicKey), wireBlock(p0), wireBlock(p1)])).toEqual({ code: 'ERR_FORMAT', block: undefined })
    // the draft chain: a list of blocks without a principal
    expect(at([wireBlock(p0), wireBlock(p1)])).toEqual({ code: 'ERR_FORMAT', block: undefined })
    expect(at(rawChain(Array(17).fill(p1)))).toEqual({ code: 'ERR_CHAIN_DEPTH', block: undefined })
    // the principal is checked before the depth
    expect(at([new Uint8Array(31), ...Array(17).fill(wireBlock(p1))])).toEqual({ code: 'ERR_FORMAT', block: undefined })
  })

  it('a block: a byte string longer than a signature, before its payload; block 0 before block 1', () => {
    // shortest head for an array, rewritten as the non-minimal one-byte-length form
    const wide = (b: Uint8Array) => Uint8Array.of(0x98, (b[0] as number) & 0x1f, ...b.subarray(1))
    const at = (b0: CborValue, b1: CborValue) => parsed(mandate([1, [alice.publicKey, b0, b1], secret]))
    const w0 = wireBlock(p0)
    const w1 = wireBlock(p1)
    expect(at(w0, w1)).toEqual({ code: 'ok', block: undefined })
    expect(at(w0, w1.subarray(0, 64))).toEqual({ code: 'ERR_FORMAT', block: 1 })
    expect(at(w0, w1.subarray(0, 63))).toEqual({ code: 'ERR_FORMAT', block: 1 })
    expect(at(w0, new Uint8Array(0))).toEqual({ code: 'ERR_FORMAT', block: 1 })
    // the draft block [payload, signature], and a text
    expect(at(w0, [p1[0], p1[1]])).toEqual({ code: 'ERR_FORMAT', block: 1 })
    expect(at(w0, 'x'.repeat(200))).toEqual({ code: 'ERR_FORMAT', block: 1 })
    // the payload is strict CBOR, read only after the framing
    expect(at(w0, wireBlock([wide(p1[0]), p1[1]]))).toEqual({ code: 'ERR_CBOR_NONCANONICAL', block: 1 })
    expect(at(wireBlock([wide(p0[0]), p0[1]]), w1.subarray(0, 63))).toEqual({ code: 'ERR_CBOR_NONCANONICAL', block: 0 })
    // its size before its CBOR
    expect(at(w0, wireBlock([new Uint8Array(4097).fill(0x1c), p1[1]]))).toEqual({ code: 'ERR_LIMIT_SIZE', block: 1 })
    expect(at(w0, wireBlock([new Uint8Array(4096).fill(0x1c), p1[1]]))).toEqual({ code: 'ERR_CBOR_MALFORMED', block: 1 })
  })

  describe('a block payload, [holder, bearer, issued_at, caveats, extra?]', () => {
    // Any 32 bytes will do (parsing checks no signature); a literal key keeps the tables below free of library calls.
    const holder = fixedKey('subagent').publicKey
    const caveats: CborValue[] = []
    const nonce = new Uint8Array(16).fill(1)
    /** Block 1 with `payload` (signature irrelevant: parsing checks no signature). */
    const at = (payload: CborValue) => parsed(mandate([1, rawChain([p0, [encodeCbor(payload), p1[1]]]), secret]))
    const extra = (...entries: [number, CborValue][]) => new Map<number, CborValue>(entries)

    it.each([
      ['bearer, no extra', [holder, true, T0, caveats]],
      ['bearer with a name and a purpose', [holder, true, T0, caveats, extra([1, 'n'], [2, 'p'])]],
      ['bound with a nonce', [holder, false, T0, caveats, extra([0, nonce])]],
      ['bound with a nonce and a name', [holder, false, T0, caveats, extra([0, nonce], [1, 'n'])]],
      ['32 caveats', [holder, true, T0, Array(32).fill([1, ['*']])]],
    ] as [string, CborValue][])('%s: parses', (_, payload) => {
      expect(at(payload)).toEqual({ code: 'ok', block: undefined })
    })

    it.each([
      ['an array of 3', 'ERR_FORMAT', [holder, true, T0]],
      ['an array of 6', 'ERR_FORMAT', [holder, true, T0, caveats, extra([1, 'n']), 'x']],
      ['the draft map', 'ERR_FORMAT', extra([1, holder], [2, true], [3, caveats], [6, nonce], [7, T0])],
      ['a holder of 31 bytes', 'ERR_FORMAT', [holder.subarray(0, 31), true, T0, caveats]],
      ['a holder as text', 'ERR_FORMAT', [toDidKey(holder), true, T0, caveats]],
      ['bearer as 1', 'ERR_FORMAT', [holder, 1, T0, caveats]],
      ['bearer absent (caveats in its place)', 'ERR_FORMAT', [holder, T0, caveats, caveats]],
      ['a negative issued_at', 'ERR_FORMAT', [holder, true, -1, caveats]],
      ['issued_at as text', 'ERR_FORMAT', [holder, true, String(T0), caveats]],
      ['caveats as a map', 'ERR_FORMAT', [holder, true, T0, extra([0, [1, ['*']]])]],
      ['33 caveats', 'ERR_LIMIT_COUNT', [holder, true, T0, Array(33).fill([1, ['*']])]],
      ['an empty extra map', 'ERR_FORMAT', [holder, true, T0, caveats, extra()]],
      ['extra as a list', 'ERR_FORMAT', [holder, true, T0, caveats, ['n']]],
      ['an unknown extra key', 'ERR_FORMAT', [holder, true, T0, caveats, extra([3, 'x'])]],
      ['an unknown extra key beside known ones', 'ERR_FORMAT', [holder, false, T0, caveats, extra([0, nonce], [1, 'n'], [9, 'x'])]],
      ['a nonce in a bearer block', 'ERR_FORMAT', [holder, true, T0, caveats, extra([0, nonce])]],
      ['a bound block without extra', 'ERR_FORMAT', [holder, false, T0, caveats]],
      ['a bound block without a nonce', 'ERR_FORMAT', [holder, false, T0, caveats, extra([1, 'n'])]],
      ['a bound block with a 15-byte nonce', 'ERR_FORMAT', [holder, false, T0, caveats, extra([0, nonce.subarray(0, 15)])]],
      ['a bound block with a 17-byte nonce', 'ERR_FORMAT', [holder, false, T0, caveats, extra([0, new Uint8Array(17)])]],
      ['a name that is not text', 'ERR_FORMAT', [holder, true, T0, caveats, extra([1, 5])]],
      ['a purpose that is not text', 'ERR_FORMAT', [holder, true, T0, caveats, extra([2, new Uint8Array(2)])]],
    ] as [string, string, CborValue][])('%s → %s at block 1', (_, code, payload) => {
      expect(at(payload)).toEqual({ code, block: 1 })
    })

    it('the fields are read in order: holder, bearer, issued_at, caveats (and their count), extra', () => {
      const many = Array(33).fill([1, ['*']])
      // a bad holder before too many caveats; too many caveats before a bad extra map
      expect(at([new Uint8Array(31), true, T0, many])).toEqual({ code: 'ERR_FORMAT', block: 1 })
      expect(at([holder, 1, T0, many])).toEqual({ code: 'ERR_FORMAT', block: 1 })
      expect(at([holder, true, -1, many])).toEqual({ code: 'ERR_FORMAT', block: 1 })
      expect(at([holder, true, T0, many, extra()])).toEqual({ code: 'ERR_LIMIT_COUNT', block: 1 })
      expect(at([holder, false, T0, many])).toEqual({ code: 'ERR_LIMIT_COUNT', block: 1 })
    })

    it('block 0 follows the same rules (it carries no principal)', () => {
      const root = (payload: CborValue) => parsed(mandate([1, rawChain([[encodeCbor(payload), p0[1]], p1]), secret]))
      const rootHolder = m.blocks[0]?.holder as Uint8Array
      expect(root([rootHolder, false, T0, caveats, extra([0, nonce])])).toEqual({ code: 'ok', block: undefined })
      expect(root([rootHolder, false, T0, caveats, extra([0, nonce], [3, alice.publicKey])])).toEqual({ code: 'ERR_FORMAT', block: 0 })
      expect(root([rootHolder, false, T0, caveats, extra([0, nonce]), alice.publicKey])).toEqual({ code: 'ERR_FORMAT', block: 0 })
      expect(root([rootHolder, true, T0, caveats, extra([0, nonce])])).toEqual({ code: 'ERR_FORMAT', block: 0 })
    })
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
      const forged = rawSigned(inv.payload, getBackend().sign(key.secretKey, signingInput('invocation', inv.payload)))
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
