/**
 * The two Ed25519 backends, the profile's building blocks and backend selection, checked at
 * their boundaries: every outcome with its error code and message, the order of the rules,
 * S on both sides of L, the small-order R that OpenSSL accepts, and which backend is chosen.
 */

import { Worker } from 'node:worker_threads'
import { Point } from '@noble/ed25519'
import { base58 } from '@scure/base'
import { describe, expect, it, vi } from 'vitest'
import type { Ed25519Backend } from '../../src/crypto/backend.js'
import { getBackend, verifyOrThrow } from '../../src/crypto/ed25519.js'
import { assertStrongKey, exportPublicKeyPem, exportSecretKeyPem, importSecretKeyPem, parsePublicKey } from '../../src/crypto/keys.js'
import { bytesToNumberLE, checkKey, isReducedScalar, L, OUTCOME_CODES, precheck, smallOrderEncodings } from '../../src/crypto/profile.js'
import { concatBytes, toHex, utf8 } from '../../src/internal/bytes.js'
import { IDENTITY, identityRSignature, le32 } from '../helpers/ed25519-forge.js'
import { caught, fixedKey, hex, keyFor, thrownCode } from '../helpers/fixtures.js'

const ORDER_2 = `ec${'ff'.repeat(30)}7f`
const Y_EQUALS_P = `ed${'ff'.repeat(30)}7f`

describe('profile building blocks', () => {
  it('bytesToNumberLE reads every byte, lowest first', () => {
    expect(bytesToNumberLE(new Uint8Array([0x01, 0x02, 0x03]))).toBe(0x030201n)
    expect(bytesToNumberLE(new Uint8Array([0xff]))).toBe(0xffn)
    expect(bytesToNumberLE(new Uint8Array(0))).toBe(0n)
  })

  it('isReducedScalar: S < L on both sides of L and of the top-byte fast exits', () => {
    expect(isReducedScalar(le32(0n))).toBe(true)
    expect(isReducedScalar(le32(L - 1n))).toBe(true)
    expect(isReducedScalar(le32(L))).toBe(false)
    expect(isReducedScalar(le32(L + 1n))).toBe(false)
    // top byte 0x10 but below L: decided by the full comparison
    expect(isReducedScalar(le32(2n ** 252n))).toBe(true)
    // top byte 0x0f with every other byte 0xff: reduced
    expect(isReducedScalar(le32(2n ** 252n - 1n))).toBe(true)
    // top byte 0x11 and the rest zero: not reduced
    expect(isReducedScalar(le32(0x11n << 248n))).toBe(false)
    expect(isReducedScalar(le32(2n ** 256n - 1n))).toBe(false)
  })

  it('smallOrderEncodings is exactly the eight canonical small-order points', () => {
    const set = smallOrderEncodings()
    expect(set.size).toBe(8)
    expect(set.has(IDENTITY)).toBe(true)
    expect(set.has(ORDER_2)).toBe(true)
    expect(set.has('c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a')).toBe(true)
    for (const e of set) expect(Point.fromHex(e).isSmallOrder()).toBe(true)
    // Canonical (each re-encodes to itself), and exactly the multiples of the order-8 point.
    for (const e of set) expect(Point.fromHex(e).toHex()).toBe(e)
    const t8 = Point.fromHex('c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a')
    const multiples = Array.from({ length: 8 }, (_, i) => (i === 0 ? Point.ZERO : t8.multiply(BigInt(i))).toHex())
    expect([...set].sort()).toEqual(multiples.sort())
    expect(set.has(toHex(fixedKey('alice').publicKey))).toBe(false)
    expect(smallOrderEncodings()).toBe(set)
  })

  it('checkKey classifies canonical, non-canonical and small-order keys', () => {
    expect(checkKey(fixedKey('alice').publicKey).ok).toBe(true)
    expect(checkKey(hex(Y_EQUALS_P))).toEqual({ ok: false, rule: 'noncanonical_A' })
    expect(checkKey(hex(ORDER_2))).toEqual({ ok: false, rule: 'small_order_A' })
  })

  it('precheck reports the rules in order: length, A encoding, R encoding, S, A order, R order', () => {
    const alice = fixedKey('alice')
    const good = checkKey(alice.publicKey)
    const weak = checkKey(hex(IDENTITY))
    const bad = checkKey(hex(Y_EQUALS_P))
    const goodR = Point.BASE.toBytes()
    const badR = hex(Y_EQUALS_P)
    const sOk = le32(5n)
    const sBig = le32(L)
    const rule = (sig: Uint8Array, pub: Uint8Array, key: ReturnType<typeof checkKey>) => {
      const pre = precheck(sig, pub, key)
      return 'rule' in pre ? pre.rule : 'pass'
    }
    expect(rule(new Uint8Array(63), alice.publicKey, good)).toBe('length')
    expect(rule(new Uint8Array(65), alice.publicKey, good)).toBe('length')
    expect(rule(concatBytes(goodR, sOk), new Uint8Array(31), good)).toBe('length')
    expect(rule(concatBytes(goodR, sOk), new Uint8Array(33), good)).toBe('length')
    expect(rule(concatBytes(badR, sBig), hex(Y_EQUALS_P), bad)).toBe('noncanonical_A')
    expect(rule(concatBytes(badR, sBig), hex(IDENTITY), weak)).toBe('noncanonical_R')
    expect(rule(concatBytes(goodR, sBig), hex(IDENTITY), weak)).toBe('S_not_reduced')
    expect(rule(concatBytes(hex(IDENTITY), sOk), hex(IDENTITY), weak)).toBe('small_order_A')
    expect(rule(concatBytes(hex(IDENTITY), sOk), alice.publicKey, good)).toBe('small_order_R')
    const pass = precheck(concatBytes(goodR, sOk), alice.publicKey, good)
    expect('rule' in pass).toBe(false)
    if (!('rule' in pass)) {
      expect(pass.S).toBe(5n)
      expect(toHex(pass.R.toBytes())).toBe(toHex(goodR))
      expect(toHex(pass.A.toBytes())).toBe(toHex(alice.publicKey))
    }
  })

  it('maps every rejecting outcome to its error code', () => {
    expect(OUTCOME_CODES).toEqual({
      length: 'ERR_SIG_LENGTH',
      noncanonical_A: 'ERR_SIG_ENCODING',
      noncanonical_R: 'ERR_SIG_ENCODING',
      S_not_reduced: 'ERR_SIG_SCALAR',
      small_order_A: 'ERR_KEY_WEAK',
      small_order_R: 'ERR_KEY_WEAK',
      equation: 'ERR_SIG_INVALID',
    })
  })
})

describe.each(['node', 'noble'] as const)('%s backend', (name) => {
  it('rejects a small-order R that satisfies the cofactorless equation (small_order_R)', () => {
    const backend = getBackend(name)
    const alice = fixedKey('alice')
    const msg = utf8('small-order R')
    const sig = identityRSignature(alice.secretKey, alice.publicKey, msg)
    expect(backend.verify(sig, msg, alice.publicKey)).toBe('small_order_R')
    // R's order is checked before the equation, so any message gives the same rule
    expect(backend.verify(sig, utf8('other'), alice.publicKey)).toBe('small_order_R')
  })

  it('rejects a small-order A even when the equation holds ([S]B = R for A = identity)', () => {
    const backend = getBackend(name)
    const R = Point.BASE.multiply(5n).toBytes()
    const sig = concatBytes(R, le32(5n))
    for (const m of [new Uint8Array(0), utf8('any message')]) expect(backend.verify(sig, m, hex(IDENTITY))).toBe('small_order_A')
  })

  it('reports each rule for a well-formed 64/32-byte input', () => {
    const backend = getBackend(name)
    const alice = fixedKey('alice')
    const msg = utf8('rules')
    const sig = backend.sign(alice.secretKey, msg)
    expect(sig).toHaveLength(64)
    expect(backend.verify(sig, msg, alice.publicKey)).toBe('accept')
    expect(backend.verify(sig, msg, hex(Y_EQUALS_P))).toBe('noncanonical_A')
    expect(backend.verify(concatBytes(hex(Y_EQUALS_P), sig.subarray(32)), msg, alice.publicKey)).toBe('noncanonical_R')
    expect(backend.verify(concatBytes(sig.subarray(0, 32), le32(L)), msg, alice.publicKey)).toBe('S_not_reduced')
    expect(backend.verify(sig, msg, hex(ORDER_2))).toBe('small_order_A')
    expect(backend.verify(sig, utf8('rulez'), alice.publicKey)).toBe('equation')
    expect(backend.verify(new Uint8Array(64), msg, new Uint8Array(31))).toBe('length')
  })

  it('verifyOrThrow returns on accept and throws the mapped code, the rule in words and the block', () => {
    const backend = getBackend(name)
    const alice = fixedKey('alice')
    const msg = utf8('verifyOrThrow')
    const sig = backend.sign(alice.secretKey, msg)
    expect(verifyOrThrow(backend, sig, msg, alice.publicKey, 'block 0')).toBeUndefined()
    const e = caught(() => verifyOrThrow(backend, sig, msg, hex(ORDER_2), 'block 2', 2))
    expect(e.code).toBe('ERR_KEY_WEAK')
    expect(e.message).toBe('block 2: signature rejected (small order A)')
    expect(e.block).toBe(2)
    const sigBad = caught(() => verifyOrThrow(backend, sig, utf8('x'), alice.publicKey, 'approval'))
    expect(sigBad.code).toBe('ERR_SIG_INVALID')
    expect(sigBad.message).toBe('approval: signature rejected (equation)')
    expect(sigBad.block).toBeUndefined()
    expect(sigBad.toJSON()).not.toHaveProperty('block')
    const e0 = caught(() => verifyOrThrow(backend, sig.subarray(1), msg, alice.publicKey, 'root', 0))
    expect(e0.code).toBe('ERR_SIG_LENGTH')
    expect(e0.block).toBe(0)
    const scalar = caught(() => verifyOrThrow(backend, concatBytes(sig.subarray(0, 32), le32(L)), msg, alice.publicKey, 'x'))
    expect(scalar.code).toBe('ERR_SIG_SCALAR')
    expect(scalar.message).toBe('x: signature rejected (S not reduced)')
    const enc = caught(() => verifyOrThrow(backend, sig, msg, hex(Y_EQUALS_P), 'x'))
    expect(enc.code).toBe('ERR_SIG_ENCODING')
    expect(enc.message).toBe('x: signature rejected (noncanonical A)')
  })
})

describe('backend selection', () => {
  it('names the backends and refuses unknown ones with a TypeError that names them', () => {
    expect(getBackend('node').name).toBe('node')
    expect(getBackend('noble').name).toBe('noble')
    expect(getBackend().name).toBe('node')
    expect(() => getBackend('openssl' as 'node')).toThrow(new TypeError('"backend" "openssl" is not available in this runtime'))
  })

  it('without the Node backend installed only noble exists; an explicit choice survives a later install', async () => {
    vi.resetModules()
    const fresh = await import('../../src/crypto/ed25519.js')
    expect(fresh.availableBackends()).toEqual(['noble'])
    expect(fresh.getBackend().name).toBe('noble')
    expect(() => fresh.getBackend('node')).toThrow(new TypeError('"backend" "node" is not available in this runtime'))
    const fake = { name: 'node' } as Ed25519Backend
    fresh.setDefaultBackend('noble')
    fresh.installNodeBackend(fake)
    expect(fresh.availableBackends()).toEqual(['node', 'noble'])
    expect(fresh.getBackend('node')).toBe(fake)
    expect(fresh.getBackend().name).toBe('noble')
    fresh.setDefaultBackend('node')
    expect(fresh.getBackend()).toBe(fake)
  })

  it('installing the Node backend makes it the default when none was chosen', async () => {
    vi.resetModules()
    const fresh = await import('../../src/crypto/ed25519.js')
    const fake = { name: 'node' } as Ed25519Backend
    fresh.installNodeBackend(fake)
    expect(fresh.getBackend()).toBe(fake)
  })
})

describe('keys: formats and messages', () => {
  it('parsePublicKey: the format error carries its message and hint', () => {
    const e = caught(() => parsePublicKey('not a key'))
    expect(e.code).toBe('ERR_KEY_FORMAT')
    expect(e.message).toBe('not a public key: expected did:key, SPKI PEM, 64 hex digits or 43 base64url characters')
    expect(e.hint).toBe('run `mandate pubkey KEYFILE` to print a key as did:key')
  })

  it('assertStrongKey: a message for each weakness', () => {
    expect(assertStrongKey(fixedKey('alice').publicKey)).toBeUndefined()
    const enc = caught(() => assertStrongKey(hex(Y_EQUALS_P)))
    expect(enc.code).toBe('ERR_SIG_ENCODING')
    expect(enc.message).toBe('public key is not a canonical point encoding')
    const weak = caught(() => assertStrongKey(hex(ORDER_2)))
    expect(weak.code).toBe('ERR_KEY_WEAK')
    expect(weak.message).toBe('public key is a point of small order')
  })

  it('did:key: only z-prefixed base58btc of 0xed 0x01 and 32 bytes', () => {
    const pub = fixedKey('alice').publicKey
    const did = (bytes: Uint8Array) => `did:key:z${base58.encode(bytes)}`
    expect(toHex(parsePublicKey(did(concatBytes(new Uint8Array([0xed, 0x01]), pub))))).toBe(toHex(pub))
    expect(toHex(parsePublicKey(`  ${did(concatBytes(new Uint8Array([0xed, 0x01]), pub))}\n`))).toBe(toHex(pub))
    // X25519 (0xec01), a wrong second byte, a short and a long key
    expect(thrownCode(() => parsePublicKey(did(concatBytes(new Uint8Array([0xec, 0x01]), pub))))).toBe('ERR_KEY_FORMAT')
    expect(thrownCode(() => parsePublicKey(did(concatBytes(new Uint8Array([0xed, 0x02]), pub))))).toBe('ERR_KEY_FORMAT')
    expect(thrownCode(() => parsePublicKey(did(concatBytes(new Uint8Array([0xed, 0x01]), pub.subarray(1)))))).toBe('ERR_KEY_FORMAT')
    expect(thrownCode(() => parsePublicKey(did(concatBytes(new Uint8Array([0xed, 0x01]), pub, new Uint8Array(1)))))).toBe('ERR_KEY_FORMAT')
    // not base58btc (no multibase 'z'), and not base58 at all
    expect(thrownCode(() => parsePublicKey(`did:key:${base58.encode(concatBytes(new Uint8Array([0xed, 0x01]), pub))}`))).toBe(
      'ERR_KEY_FORMAT',
    )
    expect(thrownCode(() => parsePublicKey('did:key:z0OIl'))).toBe('ERR_KEY_FORMAT')
    // another multibase prefix in front of a valid base58btc body
    expect(thrownCode(() => parsePublicKey(`did:key:m${base58.encode(concatBytes(new Uint8Array([0xed, 0x01]), pub))}`))).toBe(
      'ERR_KEY_FORMAT',
    )
  })

  it('hex and base64url forms: exact lengths only, either hex case', () => {
    const pub = fixedKey('alice').publicKey
    expect(toHex(parsePublicKey(toHex(pub).toUpperCase()))).toBe(toHex(pub))
    expect(thrownCode(() => parsePublicKey(toHex(pub).slice(2)))).toBe('ERR_KEY_FORMAT')
    expect(thrownCode(() => parsePublicKey(`${toHex(pub)}00`))).toBe('ERR_KEY_FORMAT')
    expect(thrownCode(() => parsePublicKey(`x${toHex(pub)}`))).toBe('ERR_KEY_FORMAT')
    const b64 = Buffer.from(pub).toString('base64url')
    expect(b64).toHaveLength(43)
    expect(thrownCode(() => parsePublicKey(`${b64}A`))).toBe('ERR_KEY_FORMAT')
    expect(thrownCode(() => parsePublicKey(b64.slice(1)))).toBe('ERR_KEY_FORMAT')
    expect(thrownCode(() => parsePublicKey(`=${b64.slice(1)}`))).toBe('ERR_KEY_FORMAT')
    // 43 characters whose last one carries non-zero padding bits: not a valid encoding
    expect(thrownCode(() => parsePublicKey(`${b64.slice(0, 42)}B`))).toBe('ERR_KEY_FORMAT')
  })

  it('SPKI PEM: exact text out; CRLF accepted in; another algorithm or length refused', () => {
    const pub = fixedKey('alice').publicKey
    const pem = exportPublicKeyPem(pub)
    expect(pem).toBe(
      `-----BEGIN PUBLIC KEY-----\n${Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), pub]).toString('base64')}\n-----END PUBLIC KEY-----\n`,
    )
    expect(toHex(parsePublicKey(pem.replaceAll('\n', '\r\n')))).toBe(toHex(pub))
    expect(toHex(parsePublicKey(pem.trimEnd()))).toBe(toHex(pub))
    expect(toHex(parsePublicKey(pem.replace('\n-----END', '-----END')))).toBe(toHex(pub))
    const x25519 = Buffer.concat([Buffer.from('302a300506032b656e032100', 'hex'), pub]).toString('base64')
    expect(thrownCode(() => parsePublicKey(`-----BEGIN PUBLIC KEY-----\n${x25519}\n-----END PUBLIC KEY-----\n`))).toBe('ERR_KEY_FORMAT')
    const long = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), pub, Buffer.from([0])]).toString('base64')
    expect(thrownCode(() => parsePublicKey(`-----BEGIN PUBLIC KEY-----\n${long}\n-----END PUBLIC KEY-----\n`))).toBe('ERR_KEY_FORMAT')
    expect(thrownCode(() => parsePublicKey('-----BEGIN PUBLIC KEY-----\n\n-----END PUBLIC KEY-----\n'))).toBe('ERR_KEY_FORMAT')
    expect(thrownCode(() => parsePublicKey(`${pem}trailing`))).toBe('ERR_KEY_FORMAT')
  })

  it('PKCS#8: exact PEM out, CRLF in, and the messages of both failures', () => {
    const alice = fixedKey('alice')
    const pem = exportSecretKeyPem(alice.secretKey)
    const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), alice.secretKey])
    expect(pem).toBe(`-----BEGIN PRIVATE KEY-----\n${der.toString('base64')}\n-----END PRIVATE KEY-----\n`)
    expect(toHex(importSecretKeyPem(pem.replaceAll('\n', '\r\n')).publicKey)).toBe(toHex(alice.publicKey))
    const bad = caught(() => importSecretKeyPem('-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n'))
    expect(bad.code).toBe('ERR_KEY_FORMAT')
    expect(bad.message).toBe('not an Ed25519 PKCS#8 private key')
    expect(bad.hint).toBe('create one with `mandate keygen -o key.pem` or `openssl genpkey -algorithm ed25519`')
    // v1 prefix with a wrong byte (X25519 OID)
    const x = Buffer.from(der)
    x[11] = 0x6e
    expect(thrownCode(() => importSecretKeyPem(`-----BEGIN PRIVATE KEY-----\n${x.toString('base64')}\n-----END PRIVATE KEY-----\n`))).toBe(
      'ERR_KEY_FORMAT',
    )
    // v2 with a matching key but the wrong [1] tag, and v2 with someone else's key
    const v2 = (tag: string, pub: Uint8Array) =>
      `-----BEGIN PRIVATE KEY-----\n${Buffer.concat([
        Buffer.from('3051020101300506032b657004220420', 'hex'),
        alice.secretKey,
        Buffer.from(tag, 'hex'),
        pub,
      ]).toString('base64')}\n-----END PRIVATE KEY-----\n`
    expect(toHex(importSecretKeyPem(v2('812100', alice.publicKey)).secretKey)).toBe(toHex(alice.secretKey))
    expect(thrownCode(() => importSecretKeyPem(v2('822100', alice.publicKey)))).toBe('ERR_KEY_FORMAT')
    // as OpenSSL writes a v2 key: base64 wrapped at 64 characters, LF or CRLF
    const wrapped = v2('812100', alice.publicKey).replace(/^(-----BEGIN PRIVATE KEY-----\n.{64})/, '$1\n')
    expect(wrapped.split('\n')).toHaveLength(5)
    expect(toHex(importSecretKeyPem(wrapped).publicKey)).toBe(toHex(alice.publicKey))
    expect(toHex(importSecretKeyPem(wrapped.replaceAll('\n', '\r\n')).publicKey)).toBe(toHex(alice.publicKey))
    const mismatch = caught(() => importSecretKeyPem(v2('812100', fixedKey('bob').publicKey)))
    expect(mismatch.code).toBe('ERR_KEY_FORMAT')
    expect(mismatch.message).toBe('PKCS#8 key: the embedded public key does not match the private key')
    // a v2 prefix on a v1-length body is not accepted either
    const v2short = Buffer.concat([Buffer.from('3051020101300506032b657004220420', 'hex'), alice.secretKey])
    expect(
      thrownCode(() => importSecretKeyPem(`-----BEGIN PRIVATE KEY-----\n${v2short.toString('base64')}\n-----END PRIVATE KEY-----\n`)),
    ).toBe('ERR_KEY_FORMAT')
  })
})

describe('node backend: a secret signed with again', () => {
  const node = getBackend('node')
  const noble = getBackend('noble')
  const message = utf8('signed again')

  it('signs with what the array holds now: the same bytes reuse the imported key, changed bytes are imported anew', () => {
    const a = keyFor('signing-key a')
    const b = keyFor('signing-key b')
    const secret = Uint8Array.from(a.secretKey)
    // Ed25519 is deterministic: each signature must be the one the other backend makes.
    expect(node.sign(secret, message)).toEqual(noble.sign(a.secretKey, message))
    expect(node.sign(secret, message, a.publicKey)).toEqual(noble.sign(a.secretKey, message))
    // The caller reuses its array for another key, or wipes it: never the old key.
    secret.set(b.secretKey)
    expect(node.sign(secret, message)).toEqual(noble.sign(b.secretKey, message))
    secret.fill(0)
    expect(node.sign(secret, message)).toEqual(noble.sign(new Uint8Array(32), message))
    // A public key derived from a secret, then that secret changed: signing follows the bytes.
    const fresh = Uint8Array.from(a.secretKey)
    expect(node.publicKey(fresh)).toEqual(a.publicKey)
    fresh.set(b.secretKey)
    expect(node.sign(fresh, message, b.publicKey)).toEqual(noble.sign(b.secretKey, message))
    expect(node.verify(node.sign(fresh, message), message, b.publicKey)).toBe('accept')
  })

  it("derives the public key of what the array holds now, and what it returns is the caller's to change", () => {
    const a = keyFor('derived key a')
    const b = keyFor('derived key b')
    const secret = Uint8Array.from(a.secretKey)
    // The first derivation's answer, written into by its caller, must not be what comes back next.
    node.publicKey(secret).fill(0)
    expect(node.publicKey(secret)).toEqual(a.publicKey)
    node.publicKey(secret).fill(1)
    expect(node.publicKey(secret)).toEqual(a.publicKey)
    // The array reused for another key, or wiped: never the old key's public half.
    secret.set(b.secretKey)
    expect(node.publicKey(secret)).toEqual(b.publicKey)
    secret.fill(0)
    expect(node.publicKey(secret)).toEqual(noble.publicKey(new Uint8Array(32)))
  })

  it('pairs a copy read once with its own public key, and signs with that copy as the bytes it holds', () => {
    const a = keyFor('pair key a')
    const b = keyFor('pair key b')
    const caller = Uint8Array.from(a.secretKey)
    const pair = node.keyPair?.(caller) as { secretKey: Uint8Array; publicKey: Uint8Array }
    expect(pair.secretKey).not.toBe(caller)
    expect(pair.secretKey).toEqual(a.secretKey)
    expect(pair.publicKey).toEqual(a.publicKey)
    // The caller's array changes afterwards: the pair is still a's, and so are its signatures.
    caller.set(b.secretKey)
    expect(node.sign(pair.secretKey, message)).toEqual(noble.sign(a.secretKey, message))
    expect(node.publicKey(caller)).toEqual(b.publicKey)
    expect(node.sign(caller, message)).toEqual(noble.sign(b.secretKey, message))
    // The pair's own public key, written into, is not what the next pair gets.
    pair.publicKey.fill(0)
    expect(node.keyPair?.(pair.secretKey).publicKey).toEqual(a.publicKey)
  })

  it('a secret another thread keeps rewriting is never remembered as the other key once it rests', async () => {
    const a = keyFor('shared key a')
    const b = keyFor('shared key b')
    const memory = new SharedArrayBuffer(36)
    const control = new Int32Array(memory, 32, 1)
    // Flips the secret between a's bytes and b's until told to stop, then leaves b's.
    const worker = new Worker(
      `const { workerData: { memory, a, b } } = require('node:worker_threads')
       const secret = new Uint8Array(memory, 0, 32), control = new Int32Array(memory, 32, 1)
       Atomics.store(control, 0, 1)
       while (Atomics.load(control, 0) === 1) { secret.set(a); secret.set(b) }
       Atomics.store(control, 0, 3)
       Atomics.notify(control, 0)`,
      { eval: true, workerData: { memory, a: a.secretKey, b: b.secretKey } },
    )
    while (Atomics.load(control, 0) !== 1) await new Promise((r) => setTimeout(r, 5))
    // Each view its own cache entry, made while the bytes move under it.
    const views = Array.from({ length: 5000 }, () => {
      const view = new Uint8Array(memory, 0, 32)
      node.publicKey(view)
      return view
    })
    Atomics.store(control, 0, 2)
    Atomics.wait(control, 0, 2, 5000)
    await worker.terminate()
    const resting = new Uint8Array(memory, 0, 32)
    expect(resting).toEqual(b.secretKey)
    const wrong = views.filter(
      (v) => toHex(node.publicKey(v)) !== toHex(b.publicKey) || toHex(node.sign(v, message)) !== toHex(noble.sign(b.secretKey, message)),
    )
    expect(wrong).toHaveLength(0)
  })
})
