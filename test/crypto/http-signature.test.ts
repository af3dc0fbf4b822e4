/**
 * The `mandate` profile of RFC 9421 HTTP Message Signatures (+ RFC 9530 Content-Digest):
 * the RFC's own Ed25519 vector, interop with an independent implementation
 * (`http-message-signatures`), every rejection with its code, and a sign→verify property.
 */
import { createHash, createPrivateKey, createPublicKey, sign as nodeSign, verify as nodeVerify } from 'node:crypto'
import { base64, base64urlnopad } from '@scure/base'
import fc from 'fast-check'
import { httpbis } from 'http-message-signatures'
import { type BareItem, type InnerList, type Item, parseDictionary, serializeDictionary } from 'structured-headers'
import { describe, expect, it } from 'vitest'
import { availableBackends, getBackend, setDefaultBackend } from '../../src/crypto/ed25519.js'
import {
  acceptSignature,
  contentDigest,
  deriveComponents,
  HttpSignatureError,
  type ReceivedRequest,
  SIGNATURE_LABEL,
  signatureBase,
  signRequest,
  verifyRequestSignature,
  verifyRequestSignatureAsync,
} from '../../src/crypto/http-signature.js'
import { type KeyPair, keyPairFromSecret, parsePublicKey, toDidKey } from '../../src/crypto/keys.js'
import { toHex, utf8 } from '../../src/internal/bytes.js'
import { fixedDid, fixedKey, hex, T0 } from '../helpers/fixtures.js'

const alice = fixedKey('http-signature alice')
const bob = fixedKey('http-signature bob')
const aliceDid = fixedDid('http-signature alice')
const NONCE = 'n0nce-n0nce_n0nce-1'
const URL_ = 'https://mandate.example/v1/uses/claim?wait=5'
const BODY = utf8('{"invocation":"…"}')
const GET_COMPONENTS = ['@method', '@authority', '@path', '@query']
const POST_COMPONENTS = [...GET_COMPONENTS, 'content-digest']

/** A received request, with case-insensitive header lookup as servers offer. */
function received(method: string, url: string, headers: Record<string, string>, body: Uint8Array = new Uint8Array(0)): ReceivedRequest {
  const lower = new Map(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]))
  return { method, url, body, header: (name) => lower.get(name.toLowerCase()) }
}

/** The HttpSignatureError code `f` throws, or 'ok'. Any other exception fails the test. */
function codeOf(f: () => unknown): string {
  try {
    f()
    return 'ok'
  } catch (e) {
    if (e instanceof HttpSignatureError) return e.code
    throw e
  }
}

function messageOf(f: () => unknown): string {
  try {
    f()
  } catch (e) {
    if (e instanceof HttpSignatureError) return e.message
    throw e
  }
  return 'ok'
}

const verifyAt =
  (request: ReceivedRequest, now = T0) =>
  () =>
    verifyRequestSignature(request, { now })

/** A request signed by us at T0, as the service receives it. */
function signedPost(options: { method?: string; url?: string; body?: Uint8Array; created?: number; nonce?: string } = {}) {
  const method = options.method ?? 'POST'
  const url = options.url ?? URL_
  const body = options.body ?? BODY
  const headers = signRequest({ method, url, body }, alice, { created: options.created ?? T0, nonce: options.nonce ?? NONCE })
  return { method, url, body, headers }
}

/** A correctly signed request over an arbitrary Signature-Input member (to test the profile, not the signature). */
function signCustom(
  components: readonly (string | Item)[],
  params: readonly (readonly [string, BareItem])[],
  o: { method?: string; url?: string; body?: Uint8Array; key?: KeyPair; digest?: string } = {},
): ReceivedRequest {
  const method = o.method ?? 'POST'
  const url = o.url ?? URL_
  const body = o.body ?? BODY
  const digest = o.digest ?? contentDigest(body)
  const list: InnerList = [components.map((c): Item => (typeof c === 'string' ? [c, new Map()] : c)), new Map(params)]
  const values: Record<string, string> = { ...deriveComponents(method, url), 'content-digest': digest }
  const base = signatureBase(list, (name) => values[name] ?? '')
  const signature = getBackend().sign((o.key ?? alice).secretKey, utf8(base))
  return received(
    method,
    url,
    {
      'content-digest': digest,
      'signature-input': serializeDictionary(new Map([[SIGNATURE_LABEL, list]])),
      signature: serializeDictionary(new Map([[SIGNATURE_LABEL, [signature, new Map()]]])),
    },
    body,
  )
}

const goodParams = (): [string, BareItem][] => [
  ['created', T0],
  ['keyid', aliceDid],
  ['alg', 'ed25519'],
  ['nonce', NONCE],
]

describe('RFC 9421 Appendix B.2.6 (test-key-ed25519)', () => {
  // RFC 9421 §B.1.4 test-key-ed25519 (JWK x and d) and §B.2.6 "Signing a Request Using ed25519".
  const x = base64urlnopad.decode('JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs')
  const d = base64urlnopad.decode('n4Ni-HpISpVObnQMW0wOhCKROaIKqKtW_2ZYb2p9KcU')
  const input =
    'sig-b26=("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519"'
  const signatureHeader = 'sig-b26=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==:'
  const base = [
    '"date": Tue, 20 Apr 2021 02:07:55 GMT',
    '"@method": POST',
    '"@path": /foo',
    '"@authority": example.com',
    '"content-type": application/json',
    '"content-length": 18',
    '"@signature-params": ("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519"',
  ].join('\n')
  const request = {
    method: 'POST',
    url: 'https://example.com/foo?param=Value&Pet=dog',
    headers: { date: 'Tue, 20 Apr 2021 02:07:55 GMT', 'content-type': 'application/json', 'content-length': '18' } as Record<
      string,
      string
    >,
  }

  it('builds the published signature base with our base builder and derived components', () => {
    const params = parseDictionary(input).get('sig-b26') as InnerList
    const values: Record<string, string> = { ...deriveComponents(request.method, request.url), ...request.headers }
    expect(signatureBase(params, (name) => values[name] as string)).toBe(base)
  })

  it('verifies the published signature with every backend, and our signer reproduces it', () => {
    const signature = new Uint8Array((parseDictionary(signatureHeader).get('sig-b26') as [ArrayBuffer, unknown])[0])
    expect(signature.length).toBe(64)
    expect(toHex(keyPairFromSecret(d).publicKey)).toBe(toHex(x))
    for (const name of availableBackends()) {
      const backend = getBackend(name)
      expect(backend.verify(signature, utf8(base), x)).toBe('accept')
      expect(backend.verify(signature, utf8(`${base} `), x)).toBe('equation')
      expect(toHex(backend.sign(d, utf8(base)))).toBe(toHex(signature)) // Ed25519 is deterministic
    }
  })

  it('ignores the RFC request, whose label is not "mandate"', () => {
    const r = received(request.method, request.url, { ...request.headers, 'signature-input': input, signature: signatureHeader })
    expect(codeOf(verifyAt(r, 1618884473))).toBe('ERR_AUTH_REQUIRED')
  })

  it('computes RFC 9530 content digests', () => {
    expect(contentDigest(utf8('{"hello": "world"}'))).toBe('sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:')
    expect(contentDigest(utf8('{"hello": "world"}\n'))).toBe('sha-256=:RK/0qy18MlBSVnWgjwz6lZEWjP/lF5HF9bvEF8FabDg=:')
    expect(contentDigest(new Uint8Array(0))).toBe('sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:')
  })
})

describe('signRequest', () => {
  it('writes the profile: components, params in order, digest, 64-byte signature', () => {
    const { headers } = signedPost()
    expect(Object.keys(headers).sort()).toEqual(['content-digest', 'signature', 'signature-input'])
    expect(headers['content-digest']).toBe(contentDigest(BODY))
    expect(headers['signature-input']).toBe(
      `mandate=("@method" "@authority" "@path" "@query" "content-digest");created=${T0};keyid="${aliceDid}";alg="ed25519";nonce="${NONCE}"`,
    )
    const sig = parseDictionary(headers['signature'] as string).get('mandate') as [ArrayBuffer, Map<string, unknown>]
    expect(new Uint8Array(sig[0]).length).toBe(64)
    expect(sig[1].size).toBe(0)
  })

  it('covers no digest for GET/HEAD/DELETE without a body, and one for POST without a body', () => {
    for (const method of ['GET', 'HEAD', 'DELETE', 'get']) {
      const headers = signRequest({ method, url: URL_ }, alice)
      expect(headers['content-digest']).toBeUndefined()
      expect(headers['signature-input']).toMatch(/^mandate=\("@method" "@authority" "@path" "@query"\);created=\d+;keyid="did:key:z6Mk/)
      expect(codeOf(() => verifyRequestSignature(received(method.toUpperCase(), URL_, headers), { now: Date.now() / 1000 }))).toBe('ok')
    }
    const post = signRequest({ method: 'POST', url: URL_ }, alice)
    expect(post['content-digest']).toBe(contentDigest(new Uint8Array(0)))
    expect(codeOf(() => verifyRequestSignature(received('POST', URL_, post), { now: Date.now() / 1000 }))).toBe('ok')
    // A DELETE with a body covers its digest.
    const del = signRequest({ method: 'DELETE', url: URL_, body: BODY }, alice)
    expect(del['content-digest']).toBe(contentDigest(BODY))
    expect(codeOf(() => verifyRequestSignature(received('DELETE', URL_, del, BODY), { now: Date.now() / 1000 }))).toBe('ok')
  })

  it('defaults: a fresh 16-byte base64url nonce and the current time', () => {
    const before = Math.floor(Date.now() / 1000)
    const a = verifyRequestSignature(received('GET', URL_, signRequest({ method: 'GET', url: URL_ }, alice)), { now: before })
    const b = verifyRequestSignature(received('GET', URL_, signRequest({ method: 'GET', url: URL_ }, alice)), { now: before })
    expect(a.nonce).toMatch(/^[A-Za-z0-9_-]{22}$/)
    expect(a.nonce).not.toBe(b.nonce)
    expect(a.created).toBeGreaterThanOrEqual(before)
    expect(a.created).toBeLessThanOrEqual(Math.floor(Date.now() / 1000))
    expect(a.keyid).toBe(aliceDid)
    expect(toHex(a.publicKey)).toBe(toHex(alice.publicKey))
  })

  it('refuses programmer misuse with TypeError/RangeError', () => {
    expect(() => signRequest({ method: 'GET', url: '/relative' }, alice)).toThrow(TypeError)
    expect(() => signRequest({ method: 'GE T', url: URL_ }, alice)).toThrow(TypeError)
    expect(() => signRequest({ method: 'GET', url: URL_ }, alice, { nonce: 'short' })).toThrow(RangeError)
    expect(() => signRequest({ method: 'GET', url: URL_ }, alice, { created: 1.5 })).toThrow(RangeError)
    expect(() => signRequest({ method: 'GET', url: URL_ }, { secretKey: alice.secretKey, publicKey: bob.publicKey })).toThrow(RangeError)
  })

  it('acceptSignature names the label, the components and the params to include', () => {
    expect(acceptSignature(false)).toBe('mandate=("@method" "@authority" "@path" "@query");created;keyid;alg="ed25519";nonce')
    expect(acceptSignature(true)).toBe(
      'mandate=("@method" "@authority" "@path" "@query" "content-digest");created;keyid;alg="ed25519";nonce',
    )
  })
})

describe('verifyRequestSignature accepts', () => {
  it('a request signed by us, returning key, created and nonce', () => {
    const s = signedPost()
    const v = verifyRequestSignature(received(s.method, s.url, s.headers, s.body), { now: T0 })
    expect(v).toEqual({ keyid: aliceDid, publicKey: alice.publicKey, created: T0, nonce: NONCE })
  })

  it('with other labels present in both headers (ignored), in any order', () => {
    const s = signedPost()
    const headers = {
      ...s.headers,
      'signature-input': `sig1=("@method");created=1, ${s.headers['signature-input']}, other=()`,
      signature: `other=:AAAA:, ${s.headers['signature']}, sig1=:AAAA:`,
    }
    expect(codeOf(verifyAt(received(s.method, s.url, headers, s.body)))).toBe('ok')
  })

  it('with params in another order, an unexpired expires, and an extra digest algorithm', () => {
    const [created, keyid, alg, nonce] = goodParams() as [[string, BareItem], [string, BareItem], [string, BareItem], [string, BareItem]]
    const r = signCustom(POST_COMPONENTS, [nonce, alg, ['expires', T0 + 1], keyid, created])
    expect(codeOf(verifyAt(r))).toBe('ok')
    const digest = `sha-512=:${createHash('sha512').update(BODY).digest('base64')}:, ${contentDigest(BODY)}`
    expect(codeOf(verifyAt(signCustom(POST_COMPONENTS, goodParams(), { digest })))).toBe('ok')
    const s = signedPost()
    const headers = { ...s.headers, 'content-digest': `sha-512=:${base64.encode(new Uint8Array(64))}:, ${s.headers['content-digest']} ` }
    // The digest line of the base is the field as received: adding a member breaks the signature, not the digest check.
    expect(messageOf(verifyAt(received(s.method, s.url, headers, s.body)))).toBe('signature: rejected (equation)')
  })

  it('on both backends', () => {
    const s = signedPost()
    for (const name of availableBackends()) {
      setDefaultBackend(name)
      try {
        expect(codeOf(verifyAt(received(s.method, s.url, s.headers, s.body)))).toBe('ok')
      } finally {
        setDefaultBackend(availableBackends()[0] as 'node' | 'noble')
      }
    }
  })
})

describe("verifyRequestSignatureAsync (the service's path: the signature checked off the event loop)", () => {
  it('answers and refuses exactly as verifyRequestSignature, on both backends', async () => {
    const good = signedPost()
    const sig = new Uint8Array((parseDictionary(good.headers['signature'] as string).get('mandate') as [ArrayBuffer, unknown])[0])
    const withSignature = (bytes: Uint8Array) => ({
      ...good.headers,
      signature: serializeDictionary(new Map([['mandate', [bytes, new Map()]]])),
    })
    const flipped = sig.slice()
    flipped[40] = (flipped[40] as number) ^ 1
    const unreduced = sig.slice().fill(0xff, 32)
    const cases: [ReceivedRequest, number][] = [
      [received(good.method, good.url, good.headers, good.body), T0],
      [received(good.method, good.url, withSignature(flipped), good.body), T0],
      [received(good.method, good.url, withSignature(unreduced), good.body), T0],
      [received('PUT', good.url, good.headers, good.body), T0],
      [received(good.method, good.url, good.headers, good.body), T0 + 3600],
      [received(good.method, good.url, { ...good.headers, signature: undefined as unknown as string }, good.body), T0],
    ]
    const outcome = (f: () => unknown) => {
      try {
        return f()
      } catch (e) {
        return e instanceof HttpSignatureError ? `${e.code}: ${e.message}` : e
      }
    }
    for (const name of availableBackends()) {
      setDefaultBackend(name)
      try {
        for (const [request, now] of cases) {
          const sync = outcome(() => verifyRequestSignature(request, { now }))
          const async = await verifyRequestSignatureAsync(request, { now }).catch((e: unknown) =>
            outcome(() => {
              throw e
            }),
          )
          expect(async, `${name} ${String(sync)}`).toEqual(sync)
        }
      } finally {
        setDefaultBackend(availableBackends()[0] as 'node' | 'noble')
      }
    }
    expect(await verifyRequestSignatureAsync(cases[0]?.[0] as ReceivedRequest, { now: T0 })).toEqual({
      keyid: aliceDid,
      publicKey: alice.publicKey,
      created: T0,
      nonce: NONCE,
    })
    await expect(verifyRequestSignatureAsync(cases[1]?.[0] as ReceivedRequest, { now: T0 })).rejects.toThrow(
      'signature: rejected (equation)',
    )
  })
})

describe('verifyRequestSignature rejects', () => {
  const s = () => signedPost()
  const withHeaders = (h: Record<string, string | undefined>, body = s().body) => {
    const headers: Record<string, string> = {}
    for (const [k, v] of Object.entries({ ...s().headers, ...h })) if (v !== undefined) headers[k] = v
    return received(s().method, s().url, headers, body)
  }

  it('missing headers', () => {
    expect(codeOf(verifyAt(received('GET', URL_, {})))).toBe('ERR_AUTH_REQUIRED')
    expect(codeOf(verifyAt(withHeaders({ signature: undefined })))).toBe('ERR_AUTH_INVALID')
    expect(codeOf(verifyAt(withHeaders({ 'signature-input': undefined })))).toBe('ERR_AUTH_INVALID')
    expect(messageOf(verifyAt(withHeaders({ signature: undefined })))).toBe(
      'signature: no member labelled "mandate", but signature-input has one',
    )
  })

  it('another label only', () => {
    const rename = (v: string | undefined) => v?.replace(/^mandate=/, 'sig1=')
    const r = withHeaders({ 'signature-input': rename(s().headers['signature-input']), signature: rename(s().headers['signature']) })
    expect(codeOf(verifyAt(r))).toBe('ERR_AUTH_REQUIRED')
    // The mandate label in one header only.
    expect(codeOf(verifyAt(withHeaders({ signature: rename(s().headers['signature']) })))).toBe('ERR_AUTH_INVALID')
    expect(codeOf(verifyAt(withHeaders({ 'signature-input': rename(s().headers['signature-input']) })))).toBe('ERR_AUTH_INVALID')
  })

  it('headers that are not structured dictionaries, or members of the wrong shape', () => {
    expect(codeOf(verifyAt(withHeaders({ 'signature-input': 'mandate=(' })))).toBe('ERR_AUTH_INVALID')
    expect(codeOf(verifyAt(withHeaders({ signature: 'mandate=:not base64!:' })))).toBe('ERR_AUTH_INVALID')
    expect(codeOf(verifyAt(withHeaders({ 'signature-input': 'mandate="@method"' })))).toBe('ERR_AUTH_INVALID')
    const sig = s().headers['signature'] as string
    expect(messageOf(verifyAt(withHeaders({ signature: `${sig};x=1` })))).toBe(
      'signature: the member must be a byte sequence without parameters',
    )
    expect(messageOf(verifyAt(withHeaders({ signature: 'mandate="abc"' })))).toBe(
      'signature: the member must be a byte sequence without parameters',
    )
    expect(messageOf(verifyAt(withHeaders({ signature: `mandate=:${base64.encode(new Uint8Array(63))}:` })))).toBe(
      'signature: an Ed25519 signature is 64 bytes',
    )
  })

  it('a covered-component list other than the profile', () => {
    const cases: (readonly (string | Item)[])[] = [
      GET_COMPONENTS, // a POST must cover its digest
      ['@method', '@authority', '@path', 'content-digest'],
      ['@authority', '@method', '@path', '@query', 'content-digest'],
      [...POST_COMPONENTS, 'content-type'],
      [...POST_COMPONENTS, 'content-digest'],
      ['@method', '@authority', '@path', '@query', ['content-digest', new Map([['sf', true]])]],
      ['@method', '@target-uri', '@path', '@query', 'content-digest'],
      [],
    ]
    for (const components of cases) {
      const r = signCustom(components, goodParams())
      expect(codeOf(verifyAt(r)), JSON.stringify(components)).toBe('ERR_AUTH_INVALID')
    }
    expect(messageOf(verifyAt(signCustom(GET_COMPONENTS, goodParams())))).toBe(
      'signature-input: covered components must be exactly ("@method" "@authority" "@path" "@query" "content-digest") for POST',
    )
    // A GET without a body must not cover a digest; with a body it must.
    expect(codeOf(verifyAt(signCustom(POST_COMPONENTS, goodParams(), { method: 'GET', body: new Uint8Array(0) })))).toBe('ERR_AUTH_INVALID')
    expect(codeOf(verifyAt(signCustom(GET_COMPONENTS, goodParams(), { method: 'GET', body: new Uint8Array(0) })))).toBe('ok')
    expect(codeOf(verifyAt(signCustom(GET_COMPONENTS, goodParams(), { method: 'GET', body: BODY })))).toBe('ERR_AUTH_INVALID')
    expect(codeOf(verifyAt(signCustom(POST_COMPONENTS, goodParams(), { method: 'GET', body: BODY })))).toBe('ok')
  })

  it('a missing or extra parameter, or one of the wrong type', () => {
    for (const name of ['created', 'keyid', 'alg', 'nonce']) {
      const r = signCustom(
        POST_COMPONENTS,
        goodParams().filter(([n]) => n !== name),
      )
      expect(messageOf(verifyAt(r))).toBe(`signature-input: missing parameter "${name}"`)
    }
    for (const extra of [
      ['tag', 'app'],
      ['context', 'x'],
      ['nonce2', NONCE],
    ] as const) {
      const r = signCustom(POST_COMPONENTS, [...goodParams(), extra])
      expect(messageOf(verifyAt(r))).toBe(`signature-input: unexpected parameter "${extra[0]}"`)
    }
    const replace = (name: string, value: BareItem) =>
      signCustom(
        POST_COMPONENTS,
        goodParams().map(([n, v]) => [n, n === name ? value : v]),
      )
    expect(messageOf(verifyAt(replace('created', String(T0))))).toBe('signature-input: created must be an integer')
    expect(messageOf(verifyAt(replace('created', T0 + 0.5)))).toBe('signature-input: created must be an integer')
    expect(messageOf(verifyAt(replace('created', true)))).toBe('signature-input: created must be an integer')
    expect(messageOf(verifyAt(signCustom(POST_COMPONENTS, [...goodParams(), ['expires', 'soon']])))).toBe(
      'signature-input: expires must be an integer',
    )
    expect(codeOf(verifyAt(replace('keyid', true)))).toBe('ERR_AUTH_INVALID')
    expect(codeOf(verifyAt(replace('nonce', 12345678901234)))).toBe('ERR_AUTH_INVALID')
  })

  it('an alg other than "ed25519"', () => {
    for (const alg of ['rsa-pss-sha512', 'ED25519', 'ed25519 ', 'eddsa', '']) {
      const r = signCustom(
        POST_COMPONENTS,
        goodParams().map(([n, v]) => [n, n === 'alg' ? alg : v]),
      )
      expect(messageOf(verifyAt(r))).toBe('signature-input: alg must be "ed25519"')
      expect(codeOf(verifyAt(r))).toBe('ERR_AUTH_INVALID')
    }
    // The token ed25519 (unquoted) is not the string "ed25519".
    const token = (s().headers['signature-input'] as string).replace('alg="ed25519"', 'alg=ed25519')
    expect(codeOf(verifyAt(withHeaders({ 'signature-input': token })))).toBe('ERR_AUTH_INVALID')
  })

  it('created too old or in the future, on both sides of each boundary', () => {
    const at = (created: number, now: number, options: { maxAge?: number; skew?: number } = {}) =>
      codeOf(() => {
        const r = signedPost({ created })
        verifyRequestSignature(received(r.method, r.url, r.headers, r.body), { now, ...options })
      })
    expect(at(T0 - 360, T0)).toBe('ok')
    expect(at(T0 - 361, T0)).toBe('ERR_REQUEST_STALE')
    expect(at(T0 + 60, T0)).toBe('ok')
    expect(at(T0 + 61, T0)).toBe('ERR_REQUEST_STALE')
    expect(at(T0 - 15, T0, { maxAge: 10, skew: 5 })).toBe('ok')
    expect(at(T0 - 16, T0, { maxAge: 10, skew: 5 })).toBe('ERR_REQUEST_STALE')
    expect(at(T0 + 5, T0, { maxAge: 10, skew: 5 })).toBe('ok')
    expect(at(T0 + 6, T0, { maxAge: 10, skew: 5 })).toBe('ERR_REQUEST_STALE')
    expect(at(T0, T0, { maxAge: 0, skew: 0 })).toBe('ok')
    expect(at(T0 - 1, T0, { maxAge: 0, skew: 0 })).toBe('ERR_REQUEST_STALE')
  })

  it('an expired signature (expires ≤ now − skew)', () => {
    const withExpires = (expires: number) => signCustom(POST_COMPONENTS, [...goodParams(), ['expires', expires]])
    expect(codeOf(verifyAt(withExpires(T0 - 60)))).toBe('ERR_REQUEST_STALE')
    expect(codeOf(verifyAt(withExpires(T0 - 59)))).toBe('ok')
    expect(messageOf(verifyAt(withExpires(T0 - 1000)))).toBe('signature-input: the signature has expired')
  })

  it('a nonce of the wrong charset or length', () => {
    const withNonce = (nonce: string) =>
      signCustom(
        POST_COMPONENTS,
        goodParams().map(([n, v]) => [n, n === 'nonce' ? nonce : v]),
      )
    expect(codeOf(verifyAt(withNonce('a'.repeat(16))))).toBe('ok')
    expect(codeOf(verifyAt(withNonce('a'.repeat(64))))).toBe('ok')
    for (const bad of [
      'a'.repeat(15),
      'a'.repeat(65),
      `${'a'.repeat(16)}=`,
      `${'a'.repeat(16)}+/`,
      'a b c d e f g h i j',
      `${'a'.repeat(16)}.`,
      '',
    ]) {
      expect(messageOf(verifyAt(withNonce(bad))), bad).toBe('signature-input: nonce must be a string of 16 to 64 characters [A-Za-z0-9_-]')
    }
  })

  it('a body that does not match the digest, or a missing/unusable digest', () => {
    expect(messageOf(verifyAt(withHeaders({}, utf8('{"invocation":"other"}'))))).toBe('content-digest does not match the body')
    expect(codeOf(verifyAt(withHeaders({}, new Uint8Array(0))))).toBe('ERR_AUTH_INVALID')
    expect(messageOf(verifyAt(withHeaders({ 'content-digest': undefined })))).toBe(
      'content-digest: the header is missing but must be signed',
    )
    const sha512 = `sha-512=:${createHash('sha512').update(s().body).digest('base64')}:`
    expect(messageOf(verifyAt(withHeaders({ 'content-digest': sha512 })))).toBe('content-digest: no sha-256 digest')
    expect(codeOf(verifyAt(withHeaders({ 'content-digest': 'sha-256="abc"' })))).toBe('ERR_AUTH_INVALID')
    expect(codeOf(verifyAt(withHeaders({ 'content-digest': 'sha-256=:' })))).toBe('ERR_AUTH_INVALID')
    // Both body and digest swapped: the digest matches, the signature does not.
    const other = utf8('{"invocation":"other"}')
    expect(messageOf(verifyAt(withHeaders({ 'content-digest': contentDigest(other) }, other)))).toBe('signature: rejected (equation)')
  })

  it('method, path, query or authority changed after signing', () => {
    const changed = (method: string, url: string) => codeOf(verifyAt(received(method, url, s().headers, s().body)))
    expect(changed('POST', URL_)).toBe('ok')
    expect(changed('PUT', URL_)).toBe('ERR_AUTH_INVALID')
    expect(changed('post', URL_)).toBe('ERR_AUTH_INVALID')
    expect(changed('POST', 'https://mandate.example/v1/uses/release?wait=5')).toBe('ERR_AUTH_INVALID')
    expect(changed('POST', 'https://mandate.example/v1/uses/claim?wait=6')).toBe('ERR_AUTH_INVALID')
    expect(changed('POST', 'https://mandate.example/v1/uses/claim')).toBe('ERR_AUTH_INVALID')
    expect(changed('POST', 'https://evil.example/v1/uses/claim?wait=5')).toBe('ERR_AUTH_INVALID')
    expect(changed('POST', 'https://mandate.example:8443/v1/uses/claim?wait=5')).toBe('ERR_AUTH_INVALID')
    // What the URL parser normalizes is not a change: case of the host, default port, fragment.
    expect(changed('POST', 'https://MANDATE.example:443/v1/uses/claim?wait=5#x')).toBe('ok')
    expect(messageOf(verifyAt(received('PUT', URL_, s().headers, s().body)))).toBe('signature: rejected (equation)')
  })

  it('a flipped signature bit', () => {
    const sig = new Uint8Array((parseDictionary(s().headers['signature'] as string).get('mandate') as [ArrayBuffer, unknown])[0])
    for (const bit of [0, 7, 100, 255, 511]) {
      const flipped = sig.slice()
      flipped[bit >> 3] = (flipped[bit >> 3] as number) ^ (1 << (bit & 7))
      const header = serializeDictionary(new Map([['mandate', [flipped, new Map()]]]))
      expect(codeOf(verifyAt(withHeaders({ signature: header }))), `bit ${bit}`).toBe('ERR_AUTH_INVALID')
    }
    // S ≥ L is refused by the strict profile, not by the equation.
    const big = sig.slice()
    big.fill(0xff, 32)
    const header = serializeDictionary(new Map([['mandate', [big, new Map()]]]))
    expect(messageOf(verifyAt(withHeaders({ signature: header })))).toBe('signature: rejected (S not reduced)')
  })

  it('a keyid read once is remembered as read: a refused one is refused again, the key handed out is the caller’s own', () => {
    const identity = new Uint8Array(32)
    identity[0] = 1
    const weak = () =>
      signCustom(
        POST_COMPONENTS,
        goodParams().map(([n, v]) => [n, n === 'keyid' ? toDidKey(identity) : v]),
      )
    for (let i = 0; i < 3; i++) expect(codeOf(verifyAt(weak()))).toBe('ERR_AUTH_INVALID')
    const now = Math.floor(Date.now() / 1000)
    const first = verifyRequestSignature(received('GET', URL_, signRequest({ method: 'GET', url: URL_ }, alice)), { now })
    first.publicKey.fill(0) // the caller's to change: the next request with this keyid is not affected
    const second = verifyRequestSignature(received('GET', URL_, signRequest({ method: 'GET', url: URL_ }, alice)), { now })
    expect(toHex(second.publicKey)).toBe(toHex(alice.publicKey))
    expect(second.publicKey).not.toBe(first.publicKey)
    // Past the memory's bound (256 keyids), every keyid still reads right.
    for (let i = 0; i < 300; i++) {
      const k = keyPairFromSecret(new Uint8Array(32).fill(i % 256).map((b, j) => (j === 0 ? i >> 8 : b)))
      const v = verifyRequestSignature(received('GET', URL_, signRequest({ method: 'GET', url: URL_ }, k)), { now })
      expect(toHex(v.publicKey)).toBe(toHex(k.publicKey))
    }
    expect(toHex(verifyRequestSignature(received('GET', URL_, signRequest({ method: 'GET', url: URL_ }, alice)), { now }).publicKey)).toBe(
      toHex(alice.publicKey),
    )
  })

  it('keyid of a small-order key, not a did:key, not canonical, or of another key', () => {
    const withKeyid = (keyid: string) =>
      signCustom(
        POST_COMPONENTS,
        goodParams().map(([n, v]) => [n, n === 'keyid' ? keyid : v]),
      )
    const identity = new Uint8Array(32)
    identity[0] = 1 // the neutral point: order 1
    expect(messageOf(verifyAt(withKeyid(toDidKey(identity))))).toBe('signature-input: keyid is a weak key (a point of small order)')
    const order8 = hex('c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a')
    expect(codeOf(verifyAt(withKeyid(toDidKey(order8))))).toBe('ERR_AUTH_INVALID')
    expect(messageOf(verifyAt(withKeyid(toHex(alice.publicKey))))).toBe('signature-input: keyid must be a did:key string')
    expect(messageOf(verifyAt(withKeyid(`did:web:${'a'.repeat(20)}`)))).toBe('signature-input: keyid must be a did:key string')
    expect(messageOf(verifyAt(withKeyid('did:key:z6Mk')))).toBe('signature-input: keyid is not an Ed25519 did:key')
    expect(messageOf(verifyAt(withKeyid(`${aliceDid} `)))).toBe('signature-input: keyid is not in canonical did:key form')
    const noncanonical = new Uint8Array(32).fill(0xff)
    noncanonical[31] = 0x7f // y ≥ p
    expect(messageOf(verifyAt(withKeyid(toDidKey(noncanonical))))).toBe('signature-input: keyid is not a canonical Ed25519 point')
    // A valid key, but not the one that signed.
    expect(messageOf(verifyAt(withKeyid(toDidKey(bob.publicKey))))).toBe('signature: rejected (equation)')
    // Bob signs, but the keyid names Alice.
    const r = signCustom(POST_COMPONENTS, goodParams(), { key: bob })
    expect(codeOf(verifyAt(r))).toBe('ERR_AUTH_INVALID')
  })

  it('messages never echo the signature or the body', () => {
    const bad = withHeaders({}, utf8('secret body'))
    const msg = messageOf(verifyAt(bad))
    expect(msg).not.toContain('secret')
    expect(msg).not.toContain((s().headers['signature'] as string).slice(9, 30))
  })
})

describe('interop with http-message-signatures@1.0.6 (independent implementation)', () => {
  const privateKey = createPrivateKey({
    key: { kty: 'OKP', crv: 'Ed25519', d: base64urlnopad.encode(alice.secretKey), x: base64urlnopad.encode(alice.publicKey) },
    format: 'jwk',
  })
  const publicKeyOf = (did: string) => {
    const key = parsePublicKey(did)
    return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: base64urlnopad.encode(key) }, format: 'jwk' })
  }
  const keyLookup = async (params: { keyid?: string | undefined }) => {
    if (typeof params.keyid !== 'string') return null
    const key = publicKeyOf(params.keyid)
    return {
      id: params.keyid,
      algs: ['ed25519'],
      verify: async (data: Buffer, signature: Buffer) => nodeVerify(null, data, key, signature),
    }
  }
  const theirVerify = (method: string, url: string, headers: Record<string, string>) =>
    httpbis.verifyMessage(
      {
        keyLookup,
        requiredParams: ['created', 'keyid', 'alg', 'nonce'],
        requiredFields: POST_COMPONENTS,
        maxAge: 300,
        tolerance: 60,
        all: true,
      },
      { method, url, headers },
    )

  it('a request signed by us verifies with theirs (and a changed path does not)', async () => {
    const url = 'https://Mandate.Example:443/v1/uses/claim?wait=5&x=%20y'
    const headers = signRequest({ method: 'POST', url, body: BODY }, alice)
    expect(await theirVerify('POST', url, headers)).toBe(true)
    expect(await theirVerify('POST', 'https://mandate.example/v1/uses/other?wait=5&x=%20y', headers)).toBe(false)
    // And their base is byte for byte ours.
    const theirBase = httpbis.formatSignatureBase(
      httpbis
        .createSignatureBase({ fields: POST_COMPONENTS }, { method: 'POST', url, headers })
        .concat([['"@signature-params"', [(headers['signature-input'] as string).slice('mandate='.length)]]]),
    )
    const params = parseDictionary(headers['signature-input'] as string).get('mandate') as InnerList
    const values: Record<string, string> = { ...deriveComponents('POST', url), 'content-digest': headers['content-digest'] as string }
    expect(signatureBase(params, (name) => values[name] as string)).toBe(theirBase)
  })

  it('a request signed by theirs with our components and params verifies with ours', async () => {
    const now = T0
    for (const [method, url, body] of [
      ['POST', 'https://mandate.example/v1/uses/claim?wait=5', BODY],
      ['PUT', 'http://127.0.0.1:8080/v1/keys', new Uint8Array(0)],
      ['GET', 'https://mandate.example/v1/feed', undefined],
    ] as const) {
      const fields = body === undefined ? GET_COMPONENTS : POST_COMPONENTS
      const headers: Record<string, string> = {}
      if (body !== undefined) headers['content-digest'] = `sha-256=:${createHash('sha256').update(body).digest('base64')}:`
      const signed = await httpbis.signMessage(
        {
          key: { id: aliceDid, alg: 'ed25519', sign: async (data: Buffer) => nodeSign(null, data, privateKey) },
          name: SIGNATURE_LABEL,
          params: ['created', 'keyid', 'alg', 'nonce'],
          fields,
          paramValues: { created: new Date(now * 1000), nonce: 'their-nonce_0123456789' },
        },
        { method, url, headers },
      )
      const r = received(method, url, signed.headers as Record<string, string>, body ?? new Uint8Array(0))
      expect(verifyRequestSignature(r, { now })).toEqual({
        keyid: aliceDid,
        publicKey: alice.publicKey,
        created: now,
        nonce: 'their-nonce_0123456789',
      })
      expect(codeOf(verifyAt(received(method, `${url}x`, signed.headers as Record<string, string>, body ?? new Uint8Array(0)), now))).toBe(
        'ERR_AUTH_INVALID',
      )
    }
  })

  it('their signature with expires (an optional param) verifies with ours; with a tag it does not', async () => {
    const sign = (params: string[], extra: Record<string, string> = {}) =>
      httpbis.signMessage(
        {
          key: { id: aliceDid, alg: 'ed25519', sign: async (data: Buffer) => nodeSign(null, data, privateKey) },
          name: SIGNATURE_LABEL,
          params,
          fields: GET_COMPONENTS,
          paramValues: { created: new Date(T0 * 1000), expires: new Date((T0 + 300) * 1000), nonce: NONCE, ...extra },
        },
        { method: 'GET', url: URL_, headers: {} },
      )
    const ok = await sign(['created', 'keyid', 'alg', 'nonce', 'expires'])
    expect(codeOf(verifyAt(received('GET', URL_, ok.headers as Record<string, string>)))).toBe('ok')
    const tagged = await sign(['created', 'keyid', 'alg', 'nonce', 'tag'], { tag: 'app' })
    expect(codeOf(verifyAt(received('GET', URL_, tagged.headers as Record<string, string>)))).toBe('ERR_AUTH_INVALID')
    const noNonce = await sign(['created', 'keyid', 'alg'])
    expect(codeOf(verifyAt(received('GET', URL_, noNonce.headers as Record<string, string>)))).toBe('ERR_AUTH_INVALID')
  })
})

describe('property: sign → verify roundtrip', () => {
  it('verifies for random methods, URLs and bodies, and fails once the body changes', () => {
    const methods = fc.constantFrom('GET', 'HEAD', 'DELETE', 'POST', 'PUT', 'PATCH', 'OPTIONS', 'get', 'post', 'QUERY')
    fc.assert(
      fc.property(
        methods,
        fc.webUrl({
          withQueryParameters: true,
          withFragments: true,
          authoritySettings: { withPort: true, withIPv4: true, withIPv6: true },
        }),
        fc.option(fc.uint8Array({ maxLength: 200 }), { nil: undefined }),
        fc.boolean(),
        fc.integer({ min: 0, max: 2 ** 40 }),
        (method, url, body, upperHost, created) => {
          const u = new URL(url)
          const clientUrl = upperHost ? url.replace(u.hostname, u.hostname.toUpperCase()) : url
          const headers = signRequest(body === undefined ? { method, url: clientUrl } : { method, url: clientUrl, body }, alice, {
            created,
          })
          // The server sees the normalized method and the URL without fragment.
          const sent = ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT'].includes(method.toUpperCase()) ? method.toUpperCase() : method
          const serverUrl = `${u.protocol}//${u.host}${u.pathname}${u.search}`
          const received_ = received(sent, serverUrl, headers, body ?? new Uint8Array(0))
          const v = verifyRequestSignature(received_, { now: created })
          expect(v.keyid).toBe(aliceDid)
          expect(v.created).toBe(created)
          const covered = (body !== undefined && body.length > 0) || !['GET', 'HEAD', 'DELETE'].includes(sent)
          expect(headers['content-digest'] !== undefined).toBe(covered)
          const tampered = received(sent, serverUrl, headers, utf8(`x${body?.length ?? 0}`))
          expect(codeOf(() => verifyRequestSignature(tampered, { now: created }))).toBe('ERR_AUTH_INVALID')
        },
      ),
      { numRuns: 300 },
    )
  })
})
