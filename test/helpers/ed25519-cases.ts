/**
 * Reads the external Ed25519 vector files (test-vectors/ed25519, laid out as its README says)
 * into cases with their expected strict-profile outcome. Pure: the caller hands over the parsed
 * files, so the same reader runs under Node (`ed25519-vectors.ts` reads them from disk) and
 * inside the bundles of test/runtimes (browsers, workerd, Bun, Deno), which inline them.
 */
import type { SignatureOutcome } from '../../src/crypto/profile.js'
import { fromHex, utf8 } from '../../src/internal/bytes.js'

export interface Ed25519Case {
  readonly file: string
  readonly id: string
  readonly publicKey: Uint8Array
  readonly signature: Uint8Array
  readonly message: Uint8Array
  readonly expected: SignatureOutcome
}

/** The files, parsed, by name. */
export const ED25519_FILES = [
  'expected-strict-profile.json',
  'cctv_ed25519.json',
  'speccheck_cases.json',
  'zip215.json',
  'wycheproof_ed25519.json',
] as const

function hex(text: string): Uint8Array {
  const bytes = fromHex(text)
  if (!bytes) throw new Error(`bad hex in vector: ${text.slice(0, 16)}…`)
  return bytes
}

/** Every vector of the four external files, with its expected strict-profile outcome. */
export function ed25519Cases(read: (name: (typeof ED25519_FILES)[number]) => unknown): Ed25519Case[] {
  const expected = read('expected-strict-profile.json') as { vectors: Record<string, Record<string, SignatureOutcome>> }
  const outcome = (file: string, id: string): SignatureOutcome => {
    const o = expected.vectors[file]?.[id]
    if (!o) throw new Error(`no expected outcome for ${file} #${id}`)
    return o
  }
  const cases: Ed25519Case[] = []
  const cctv = read('cctv_ed25519.json') as { number: number; key: string; sig: string; msg: string }[]
  for (const v of cctv) {
    const file = 'cctv_ed25519.json'
    const id = String(v.number)
    cases.push({ file, id, publicKey: hex(v.key), signature: hex(v.sig), message: utf8(v.msg), expected: outcome(file, id) })
  }
  const spec = read('speccheck_cases.json') as { message: string; pub_key: string; signature: string }[]
  spec.forEach((v, i) => {
    const file = 'speccheck_cases.json'
    cases.push({
      file,
      id: String(i),
      publicKey: hex(v.pub_key),
      signature: hex(v.signature),
      message: hex(v.message),
      expected: outcome(file, String(i)),
    })
  })
  const zip = read('zip215.json') as { vk_bytes: string; sig_bytes: string }[]
  zip.forEach((v, i) => {
    const file = 'zip215.json'
    cases.push({
      file,
      id: String(i),
      publicKey: hex(v.vk_bytes),
      signature: hex(v.sig_bytes),
      message: utf8('Zcash'),
      expected: outcome(file, String(i)),
    })
  })
  const wp = read('wycheproof_ed25519.json') as {
    testGroups: { publicKey: { pk: string }; tests: { tcId: number; msg: string; sig: string }[] }[]
  }
  for (const g of wp.testGroups) {
    for (const t of g.tests) {
      const file = 'wycheproof_ed25519.json'
      const id = String(t.tcId)
      cases.push({ file, id, publicKey: hex(g.publicKey.pk), signature: hex(t.sig), message: hex(t.msg), expected: outcome(file, id) })
    }
  }
  return cases
}
