/**
 * Verifier cost against the raw signature work it must do, side by side in one process.
 *
 *     npm run bench
 *
 * For chains of 1, 5 and 10 blocks (a bearer mandate presented bare), it times, interleaved
 * in rounds so that machine noise hits all alike:
 *   raw   — exactly the Ed25519 work: every block signature verified, the bearer secret's
 *           public key derived (node:crypto backend, keys cached as the verifier caches them);
 *   cold  — `authorize` with the signature cache off (every signature verified every time);
 *   warm  — `authorize` with the cache on (the chain was seen before).
 * It prints medians per operation and the ratios cold/raw and warm/raw. Ratios, not absolute
 * times, are what to compare across machines. Then the token sizes of the same chains.
 */
import '../src/crypto/use-node.js'
import {
  attenuate,
  createMemoryRevocationView,
  createVerifier,
  formatInvocation,
  formatMandate,
  generateKeyPair,
  getBackend,
  invoke,
  mint,
  toDidKey,
} from '../src/index.js'
import type { UnverifiedMandate } from '../src/token/mandate.js'
import { blockSigningInput } from '../src/token/signing.js'

const now = Math.floor(Date.now() / 1000)
const alice = generateKeyPair()
const backend = getBackend()

function chain(blocks: number): UnverifiedMandate {
  let m = mint({
    principal: alice,
    caveats: [
      { type: 'actions', patterns: ['slack:*'] },
      { type: 'window', expires: now + 3600 },
    ],
  })
  for (let i = 1; i < blocks; i++) m = attenuate(m, { caveats: [{ type: 'actions', patterns: ['slack:read'] }] })
  return m
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)] as number
}

async function main(): Promise<void> {
  const rounds = Number(process.env['BENCH_ROUNDS'] ?? 30)
  const batch = Number(process.env['BENCH_BATCH'] ?? 50)
  console.log(`mandate verifier vs raw Ed25519 work (backend ${backend.name}, ${rounds} rounds × ${batch} ops, medians)\n`)
  console.log('blocks  raw µs   cold µs  warm µs  cold/raw  warm/raw')
  for (const n of [1, 5, 10]) {
    const m = chain(n)
    const works = m.blocks.map((b, i) => ({
      sig: b.signature,
      msg: blockSigningInput(i === 0 ? undefined : m.blocks[i - 1]?.id, b.payload),
      key: i === 0 ? alice.publicKey : (m.blocks[i - 1]?.holder as Uint8Array),
    }))
    const secret = m.proof.kind === 'bearer' ? m.proof.secret : new Uint8Array(32)
    const verifier = (cacheSize: number) =>
      createVerifier({ roots: [toDidKey(alice.publicKey)], audience: 'svc', cacheSize, revocations: createMemoryRevocationView() })
    const cold = verifier(0)
    const warm = verifier(4096)
    const request = { action: 'slack:read' }
    const raw = () => {
      for (const w of works) if (backend.verify(w.sig, w.msg, w.key) !== 'accept') throw new Error('bad signature')
      backend.publicKey(secret)
    }
    const check = async (v: ReturnType<typeof verifier>) => {
      const d = await v.authorize({ mandate: m, request })
      if (!d.allowed) throw new Error(d.code)
    }
    // warm-up, and fill the warm cache
    for (let i = 0; i < 50; i++) {
      raw()
      await check(cold)
      await check(warm)
    }
    const t = { raw: [] as number[], cold: [] as number[], warm: [] as number[] }
    for (let r = 0; r < rounds; r++) {
      let s = performance.now()
      for (let i = 0; i < batch; i++) raw()
      t.raw.push((performance.now() - s) / batch)
      s = performance.now()
      for (let i = 0; i < batch; i++) await check(cold)
      t.cold.push((performance.now() - s) / batch)
      s = performance.now()
      for (let i = 0; i < batch; i++) await check(warm)
      t.warm.push((performance.now() - s) / batch)
    }
    const [r, c, w] = [median(t.raw), median(t.cold), median(t.warm)]
    const us = (x: number) => (x * 1000).toFixed(0).padStart(7)
    console.log(
      `${String(n).padStart(6)} ${us(r)}  ${us(c)}  ${us(w)}  ${(c / r).toFixed(2).padStart(8)}  ${(w / r).toFixed(2).padStart(8)}`,
    )
  }
  // Token sizes (issue #8 judges the wire format by these): the same bearer chains, as bytes and
  // as text, and a bare invocation over each (the chain as a bound holder would carry it).
  console.log('\nblocks  mandate B  text ch  invocation B  text ch')
  for (const n of [1, 5, 10]) {
    const m = chain(n)
    const text = formatMandate(m)
    const inv = invoke(m, { action: 'slack:read', audience: 'svc' })
    console.log(
      `${String(n).padStart(6)}  ${String(m.bytes.length).padStart(9)}  ${String(text.length).padStart(7)}  ${String(inv.bytes.length).padStart(12)}  ${String(formatInvocation(inv).length).padStart(7)}`,
    )
  }
}

await main()
