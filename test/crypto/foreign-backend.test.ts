/**
 * A backend object a caller passes in (to checkPresentation, checkPresentationAsync, checkChain,
 * verifyRevocation, the feed functions) is handed arrays of its own: the library's signing
 * inputs are scratch that later ones overwrite (src/internal/pool.ts), and such a backend may
 * read them after returning — behind a queue, in a worker — or look through `.buffer`.
 */
import { describe, expect, it } from 'vitest'
import type { Ed25519Backend } from '../../src/crypto/backend.js'
import { availableBackends, getBackend, messageFor, setDefaultBackend } from '../../src/crypto/ed25519.js'
import { generateKeyPair, keyPairFromSecret } from '../../src/crypto/keys.js'
import type { MandateError } from '../../src/errors.js'
import { scratch } from '../../src/internal/pool.js'
import { checkPresentation, checkPresentationAsync } from '../../src/token/integrity.js'
import { attenuate, formatMandate, mint, parseMandate } from '../../src/token/mandate.js'
import { signedMessage } from '../../src/token/signing.js'

const now = Math.floor(Date.now() / 1000)
const alice = generateKeyPair()

/** A bearer mandate of `blocks` blocks, each with a long purpose: its signing inputs fill much of the ring. */
function mandate(blocks: number, action = 'email:read'): string {
  let m = mint({
    principal: alice,
    caveats: [
      { type: 'actions', patterns: [action] },
      { type: 'window', expires: now + 3600 },
    ],
  })
  for (let i = 1; i < blocks; i++) m = attenuate(m, { purpose: 'p'.repeat(900) })
  return formatMandate(m)
}

/** Use up the ring, so that the next scratch array is cut from its first byte. */
function ringToItsStart(): void {
  for (let left = 65536 - scratch(0).byteOffset; left > 0; left = 65536 - scratch(0).byteOffset) scratch(Math.min(8192, left))
}

/** More signing inputs than the ring holds: every scratch array made before is overwritten. */
function moveTheRingOn(): void {
  for (let i = 0; i < 48; i++) signedMessage('approval', new Uint8Array(2000).fill(i))
}

/**
 * The node backend behind a queue: `verifyAsync` keeps each message it is handed (`held`) and
 * reads it only once `release` is called, as a queue in front of a worker would.
 */
function queuedBackend(): { queued: Ed25519Backend; held: Uint8Array[]; release: () => void } {
  const node = getBackend()
  const held: Uint8Array[] = []
  let release: () => void = () => {}
  const gate = new Promise<void>((resolve) => {
    release = resolve
  })
  const queued: Ed25519Backend = {
    ...node,
    async verifyAsync(signature, message, publicKey) {
      held.push(message)
      await gate
      return node.verify(signature, message, publicKey)
    },
  }
  return { queued, held, release }
}

describe('a backend passed in by the caller', () => {
  it("is told from the library's own, which are handed the scratch array itself (no copy: the ring is what makes signing inputs cheap)", () => {
    const m = signedMessage('approval', new Uint8Array(10))
    for (const name of availableBackends()) expect(messageFor(getBackend(name), m)).toBe(m)
    const copy = messageFor({ ...getBackend() }, m)
    expect(copy).not.toBe(m)
    expect(copy).toEqual(m)
  })

  it('gets messages that stay intact after the call, each in a buffer of its own (asynchronous)', async () => {
    const { queued, held, release } = queuedBackend()
    const pending = Promise.all([mandate(10), mandate(10), mandate(3)].map((t) => checkPresentationAsync(t, queued).then(() => 'ok')))
    moveTheRingOn()
    release()
    expect(await pending).toEqual(['ok', 'ok', 'ok'])
    expect(held.length).toBe(23)
    for (const m of held) expect([m.byteOffset, m.buffer.byteLength]).toEqual([0, m.length])
  })

  it('gets messages of its own from the synchronous checks too', () => {
    const node = getBackend()
    const held: Uint8Array[] = []
    const keeping: Ed25519Backend = {
      ...node,
      verify(signature, message, publicKey) {
        held.push(message)
        return node.verify(signature, message, publicKey)
      },
    }
    const text = mandate(4)
    expect(() => checkPresentation(text, keeping)).not.toThrow()
    const copies = held.map((m) => Uint8Array.from(m))
    moveTheRingOn()
    expect(held).toEqual(copies)
    for (const m of held) expect([m.byteOffset, m.buffer.byteLength]).toEqual([0, m.length])
  })

  it('refuses a forged block whatever the ring holds by the time a queued check reads it', async () => {
    const { queued, release } = queuedBackend()
    // Block 0's action changed from email:read to email:rexd, its signature kept.
    const genuine = mandate(3)
    const bytes = parseMandate(genuine).bytes
    const at = Buffer.from(bytes).indexOf('email:read')
    expect(at).toBeGreaterThan(0)
    const forged = Uint8Array.from(bytes)
    forged[at + 8] = 'x'.charCodeAt(0)
    ringToItsStart()
    const pending = checkPresentationAsync(forged, queued).then(
      () => 'accepted',
      (e: MandateError) => e.code,
    )
    // Meanwhile the genuine chain is checked, its signing inputs written exactly where the forged ones were.
    ringToItsStart()
    await checkPresentationAsync(genuine)
    release()
    expect(await pending).toBe('ERR_SIG_INVALID')
    expect(() => checkPresentation(forged, queued)).toThrow(expect.objectContaining({ code: 'ERR_SIG_INVALID' }))
  })
})

describe('a default backend that keeps nothing it derived (no keyPair)', () => {
  it('keyPairFromSecret still pairs a copy of the secret with its own public key', () => {
    const node = getBackend('node')
    const seed = Uint8Array.from({ length: 32 }, (_, i) => i)
    setDefaultBackend('noble')
    try {
      expect(getBackend().keyPair).toBeUndefined()
      const pair = keyPairFromSecret(seed)
      expect(pair.secretKey).not.toBe(seed)
      expect(pair.secretKey).toEqual(seed)
      expect(pair.publicKey).toEqual(node.publicKey(seed))
    } finally {
      setDefaultBackend('node')
    }
  })
})
