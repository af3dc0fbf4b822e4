/**
 * Signing with a key that never shows its secret (src/crypto/signer.ts): a non-extractable
 * WebCrypto Ed25519 key, as the approval page keeps one in the browser. `signRequestWith` and
 * `approveWith` give the same bytes as `signRequest` and `approve` for the same key, and a
 * signer whose signature does not verify under its public key is refused before it is used.
 */

import type { webcrypto } from 'node:crypto'
import { base64 } from '@scure/base'
import { describe, expect, it } from 'vitest'
import { signRequest, signRequestWith, verifyRequestSignature } from '../../src/crypto/http-signature.js'
import { exportSecretKeyPem, type KeyPair, keyPairFromSecret, toDidKey } from '../../src/crypto/keys.js'
import { type Ed25519Signer, signWith } from '../../src/crypto/signer.js'
import { utf8 } from '../../src/internal/bytes.js'
import { approve, approveWith, formatApproval } from '../../src/token/approval.js'
import { T0 } from '../helpers/fixtures.js'

const alice = keyPairFromSecret(new Uint8Array(32).fill(0xa1))
const bob = keyPairFromSecret(new Uint8Array(32).fill(0xb0))

/** `pair` imported into WebCrypto as non-extractable, as a signer. */
async function webCrypto(pair: KeyPair): Promise<Ed25519Signer & { key: webcrypto.CryptoKey }> {
  const pem = exportSecretKeyPem(pair.secretKey)
  const der = base64.decode(pem.split('\n').slice(1, -2).join(''))
  const key = await crypto.subtle.importKey('pkcs8', der, { name: 'Ed25519' }, false, ['sign'])
  return {
    key,
    publicKey: pair.publicKey,
    sign: async (m) => new Uint8Array(await crypto.subtle.sign({ name: 'Ed25519' }, key, m as Uint8Array<ArrayBuffer>)),
  }
}

const URL_ = 'https://mandate.example/v1/approvals/00?wait=5'

describe('signing without the secret', () => {
  it('signRequestWith: the headers of signRequest, byte for byte, from a non-extractable WebCrypto key', async () => {
    const signer = await webCrypto(alice)
    expect(signer.key.extractable).toBe(false)
    for (const [method, body] of [
      ['GET', undefined],
      ['POST', utf8('{"approval":"mna1_x"}')],
      ['POST', undefined],
    ] as const) {
      const request = { method, url: URL_, ...(body ? { body } : {}) }
      const options = { created: T0, nonce: 'n0nce-n0nce_n0nce-1' }
      const headers = await signRequestWith(request, signer, options)
      expect(headers).toEqual(signRequest(request, alice, options))
      const lower = new Map(Object.entries(headers))
      const checked = verifyRequestSignature(
        { method, url: URL_, header: (n) => lower.get(n), body: body ?? new Uint8Array(0) },
        { now: T0 },
      )
      expect(checked.keyid).toBe(toDidKey(alice.publicKey))
    }
    // A fresh nonce and the current time by default.
    const a = await signRequestWith({ method: 'GET', url: URL_ }, signer)
    const b = await signRequestWith({ method: 'GET', url: URL_ }, signer)
    expect(a['signature-input']).not.toBe(b['signature-input'])
  })

  it('approveWith: the approval approve makes, byte for byte', async () => {
    const signer = await webCrypto(alice)
    const invocation = new Uint8Array(32).fill(9)
    const options = { invocation, now: T0, ttl: 300, note: 'ok' }
    const made = await approveWith({ ...options, approver: signer })
    expect(formatApproval(made)).toBe(formatApproval(approve({ ...options, approver: alice })))
    expect(made.expires).toBe(T0 + 300)
  })

  it('refuses a signer whose signature does not verify under its public key, or that returns no signature', async () => {
    const real = await webCrypto(alice)
    const liar: Ed25519Signer = { publicKey: bob.publicKey, sign: real.sign }
    await expect(signRequestWith({ method: 'GET', url: URL_ }, liar)).rejects.toThrow(
      /"signer" signature does not verify under its publicKey/,
    )
    await expect(approveWith({ approver: liar, invocation: new Uint8Array(32) })).rejects.toThrow(RangeError)
    // No signer, or one without a public key: a TypeError naming what is missing.
    for (const approver of [undefined, {}]) {
      await expect(approveWith({ approver: approver as never, invocation: new Uint8Array(32) })).rejects.toThrow(
        new TypeError('"approver publicKey" expected Uint8Array, got undefined'),
      )
    }
    const short: Ed25519Signer = { publicKey: alice.publicKey, sign: () => new Uint8Array(10) }
    await expect(signWith(short, utf8('x'))).rejects.toThrow('"signer" returned no 64-byte Ed25519 signature')
    await expect(signWith({ publicKey: new Uint8Array(31), sign: real.sign }, utf8('x'))).rejects.toThrow(RangeError)
    await expect(signWith(null as unknown as Ed25519Signer, utf8('x'))).rejects.toThrow(TypeError)
    // The signer signs a copy: changing it changes nothing checked.
    const meddler: Ed25519Signer = {
      publicKey: alice.publicKey,
      sign: async (m) => {
        const signature = await real.sign(m)
        m.fill(0)
        return signature
      },
    }
    const message = utf8('keep me')
    await signWith(meddler, message)
    expect(message).toEqual(utf8('keep me'))
  })
})
