/**
 * A chain seen for the first time has its signatures verified at once, an invocation's with
 * them, part of them off the calling thread (`parallel`, on by default where the backend has
 * threads to spare). What must not change with it: which failure is reported (spec §7.3: the
 * first block in chain order, and an invocation's own signature only at step 7, after the
 * request), that every signature is checked, and that nothing is cached from a chain that fails.
 */
import { describe, expect, it } from 'vitest'
import type { Ed25519Backend } from '../../src/crypto/backend.js'
import { spareThreads } from '../../src/crypto/backend-node.js'
import { getBackend } from '../../src/crypto/ed25519.js'
import type { SignatureOutcome } from '../../src/crypto/profile.js'
import { SignatureCache } from '../../src/crypto/signature-cache.js'
import { attenuate, type Decision, invoke, type UnverifiedInvocation, type UnverifiedMandate } from '../../src/index.js'
import { checkSignatures } from '../../src/token/integrity.js'
import { readOptions } from '../../src/verify/options.js'
import { assistant, rootGrant, verifierFor } from '../helpers/chains.js'
import { keyFor, seededRandom, T0 } from '../helpers/fixtures.js'

const agent = keyFor('parallel agent')

/** Alice → assistant → two bearer blocks → agent (bound): five blocks. */
function fiveBlocks(): UnverifiedMandate {
  let m = attenuate(rootGrant([{ type: 'actions', patterns: ['slack:*'] }]), { key: assistant, now: T0, random: seededRandom('p1') })
  for (let i = 2; i < 4; i++) m = attenuate(m, { now: T0, random: seededRandom(`p${i}`) })
  return attenuate(m, { to: agent.publicKey, now: T0, random: seededRandom('p4') })
}

const invocationOf = (m: UnverifiedMandate, at = T0 + 30) => invoke(m, { key: agent, action: 'slack:read', audience: 'svc', now: at })
const fiveBlockInvocation = () => invocationOf(fiveBlocks())

/** The invocation's bytes with one byte of each listed signature flipped (block i, or 'invocation'). */
function forged(inv: UnverifiedInvocation, which: readonly (number | 'invocation')[]): Uint8Array {
  const bytes = Uint8Array.from(inv.bytes)
  for (const w of new Set(which)) {
    const signature = w === 'invocation' ? inv.signature : (inv.chain[w]?.signature as Uint8Array)
    const at = indexOf(bytes, signature)
    bytes[at + 40] = (bytes[at + 40] as number) ^ 0x01
  }
  return bytes
}

function indexOf(haystack: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer
    return i
  }
  throw new Error('signature not found in the invocation')
}

const summary = (d: Decision) => (d.allowed ? 'allowed' : `${d.code}@${d.block}: ${d.message}`)

async function both(input: Parameters<ReturnType<typeof verifierFor>['authorize']>[0]): Promise<[string, string]> {
  const parallel = await verifierFor({ cacheSize: 0 }).authorize(input)
  const serial = await verifierFor({ cacheSize: 0, parallel: false }).authorize(input)
  return [summary(parallel), summary(serial)]
}

describe('a cold chain verified at once', () => {
  it('decides as the serial verifier does: allowed', async () => {
    expect(await both({ invocation: fiveBlockInvocation() })).toEqual(['allowed', 'allowed'])
  })

  it('reports the first forged block in chain order, whichever thread checked it', async () => {
    const inv = fiveBlockInvocation()
    for (let i = 0; i < 5; i++) {
      for (let j = i; j < 5; j++) {
        const [parallel, serial] = await both({ invocation: forged(inv, [i, j, 'invocation']) })
        expect(parallel).toBe(serial)
        expect(parallel).toMatch(new RegExp(`^ERR_SIG_INVALID@${i}: block ${i}: signature rejected`))
      }
    }
  })

  it("reports a forged invocation signature at step 7, at the last block, after the request's check (step 6)", async () => {
    const inv = fiveBlockInvocation()
    const bad = forged(inv, ['invocation'])
    const [parallel, serial] = await both({ invocation: bad })
    expect(parallel).toBe(serial)
    expect(parallel).toBe('ERR_SIG_INVALID@4: invocation (expected a signature by the holder of block 4): signature rejected (equation)')
    const mismatched = await both({ invocation: bad, request: { action: 'slack:write' } })
    expect(mismatched[0]).toBe(mismatched[1])
    expect(mismatched[0]).toMatch(/^ERR_REQUEST_INVALID@undefined/)
  })

  it('caches a chain only once every block signature held', async () => {
    const m = fiveBlocks()
    const inv = invocationOf(m)
    const v = verifierFor()
    expect(summary(await v.authorize({ invocation: forged(inv, [3]) }))).toMatch(/^ERR_SIG_INVALID@3/)
    expect(summary(await v.authorize({ invocation: inv }))).toBe('allowed')
    // The same chain in another invocation whose own signature is forged: the chain comes from the cache, its signature is still checked.
    const again = forged(invocationOf(m, T0 + 31), ['invocation'])
    expect(summary(await v.authorize({ invocation: again }))).toBe(
      'ERR_SIG_INVALID@4: invocation (expected a signature by the holder of block 4): signature rejected (equation)',
    )
  })
})

/** A backend that records which signatures it checks and how, and refuses those listed. */
function recording(refused: (message: Uint8Array) => SignatureOutcome | 'throw' | undefined, spare = 1) {
  const real = getBackend('noble')
  const calls: string[] = []
  const outcome = (s: Uint8Array, m: Uint8Array, k: Uint8Array) => {
    const r = refused(m)
    if (r === 'throw') throw new Error('backend broke')
    return r ?? real.verify(s, m, k)
  }
  const backend: Ed25519Backend = {
    name: 'noble',
    spareThreads: spare,
    publicKey: (s) => real.publicKey(s),
    sign: (s, m, k) => real.sign(s, m, k),
    verify(s, m, k) {
      calls.push('here')
      return outcome(s, m, k)
    },
    verifyAsync(s, m, k) {
      calls.push('away')
      return new Promise((resolve, reject) => {
        setImmediate(() => {
          try {
            resolve(outcome(s, m, k))
          } catch (e) {
            reject(e)
          }
        })
      })
    },
  }
  return { backend, calls }
}

describe('checkSignatures', () => {
  const inv = fiveBlockInvocation()
  const blockMessage = (i: number) => (m: Uint8Array) => m.length > 0 && endsWith(m, inv.chain[i]?.payload as Uint8Array)

  it('sends each spare thread an equal share and checks the rest here: 6 signatures, 1 spare → 3 and 3; 3 spare → 4 and 2', async () => {
    const one = recording(() => undefined, 1)
    expect(await checkSignatures(inv.chain, one.backend, undefined, inv, 1)).toBe('accept')
    expect(one.calls).toEqual(['away', 'away', 'away', 'here', 'here', 'here'])
    const three = recording(() => undefined, 3)
    expect(await checkSignatures(inv.chain, three.backend, undefined, inv, 3)).toBe('accept')
    expect(three.calls).toEqual(['away', 'away', 'away', 'away', 'here', 'here'])
    const none = recording(() => undefined, 1)
    expect(await checkSignatures(inv.chain, none.backend, undefined, inv, 0)).toBe('accept')
    expect(none.calls).toEqual(Array(6).fill('here'))
  })

  it('throws the first failing block in chain order: one checked away before one checked here', async () => {
    const { backend, calls } = recording((m) => (blockMessage(1)(m) ? 'equation' : blockMessage(4)(m) ? 'small_order_R' : undefined))
    await expect(checkSignatures(inv.chain, backend, undefined, inv, 1)).rejects.toMatchObject({
      code: 'ERR_SIG_INVALID',
      block: 1,
      message: 'block 1: signature rejected (equation)',
    })
    // Block 4 failed here, so the invocation's signature after it was not checked.
    expect(calls).toEqual(['away', 'away', 'away', 'here', 'here'])
  })

  it("returns the invocation signature's outcome instead of throwing it", async () => {
    const { backend } = recording((m) => (m.length > 0 && !isBlock(m) ? 'equation' : undefined))
    expect(await checkSignatures(inv.chain, backend, undefined, inv, 1)).toBe('equation')
  })

  it('a backend that rejects away fails the check with its error, and leaves no rejection unhandled', async () => {
    const { backend } = recording((m) => (blockMessage(0)(m) ? 'throw' : undefined))
    await expect(checkSignatures(inv.chain, backend, undefined, inv, 1)).rejects.toThrow('backend broke')
  })

  it('a backend that throws here fails the check, while what was sent away settles unobserved', async () => {
    const { backend } = recording((m) => (blockMessage(4)(m) ? 'throw' : blockMessage(0)(m) ? 'throw' : undefined))
    await expect(checkSignatures(inv.chain, backend, undefined, inv, 1)).rejects.toThrow('backend broke')
    await new Promise((r) => setImmediate(r))
  })

  it('skips the signatures the cache saw verified, and adds a chain’s only when all of them held', async () => {
    const cache = new SignatureCache(64)
    const failing = recording((m) => (blockMessage(2)(m) ? 'equation' : undefined))
    await expect(checkSignatures(inv.chain, failing.backend, cache, undefined, 1)).rejects.toMatchObject({ block: 2 })
    const first = recording(() => undefined)
    await checkSignatures(inv.chain, first.backend, cache, undefined, 1)
    expect(first.calls).toHaveLength(5)
    const second = recording(() => undefined)
    expect(await checkSignatures(inv.chain, second.backend, cache, inv, 1)).toBe('accept')
    expect(second.calls).toEqual(['here'])
  })

  function isBlock(m: Uint8Array): boolean {
    return inv.chain.some((_, i) => blockMessage(i)(m))
  }
})

/** Whether `whole` ends with `part`: a block's signing input ends with its payload. */
function endsWith(whole: Uint8Array, part: Uint8Array): boolean {
  if (part.length > whole.length) return false
  const from = whole.length - part.length
  for (let i = 0; i < part.length; i++) if (whole[from + i] !== part[i]) return false
  return true
}

describe('the parallel option', () => {
  it('defaults to the threads the backend has to spare; false turns it off', () => {
    const backend = getBackend()
    expect(readOptions({ roots: [keyFor('r').publicKey], audience: 'a', revocations: 'none' }).spareThreads).toBe(backend.spareThreads ?? 0)
    expect(readOptions({ roots: [keyFor('r').publicKey], audience: 'a', revocations: 'none', parallel: false }).spareThreads).toBe(0)
    expect(
      readOptions({ roots: [keyFor('r').publicKey], audience: 'a', revocations: 'none', parallel: true, backend: 'noble' }).spareThreads,
    ).toBe(0)
  })

  it('is a boolean', () => {
    expect(() => readOptions({ roots: [keyFor('r').publicKey], audience: 'a', revocations: 'none', parallel: 1 as never })).toThrow(
      new TypeError('"parallel" expected a boolean, got number'),
    )
  })
})

describe('spareThreads: libuv pool threads beside the event loop', () => {
  it.each([
    [2, undefined, 1],
    [1, undefined, 0],
    [8, undefined, 4],
    [8, '2', 2],
    [8, ' 6 ', 6],
    [8, '3threads', 3],
    [8, '0', 1],
    [8, 'many', 1],
    [8, '-3', 7],
    [2000, '5000', 1024],
    [2000, '-1', 1024],
  ])('%d cores, UV_THREADPOOL_SIZE=%s → %d', (cores, pool, expected) => {
    expect(spareThreads(cores, pool)).toBe(expected)
  })
})
