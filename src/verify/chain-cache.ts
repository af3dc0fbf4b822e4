/**
 * Chains this verifier has verified, keyed by their exact bytes, so that a chain presented
 * again (the usual case: an agent invokes the same mandate many times) is neither decoded nor
 * verified again. A warm presentation then costs its own signature (the invocation) and the
 * caveats, whatever the chain's length.
 *
 * An entry is found by the first bytes of the last block's signature and taken only when
 * every byte of the presented chain (principal, then each block's signature and payload)
 * equals the entry's: a lookup can return nothing but a chain decoded from the same bytes.
 * Entries are copies holding only the chain's own bytes, never the presentation they came in.
 * Least recently used entries go first once the entry count or the byte budget is reached.
 *
 * @module
 */
import type { CborValue } from '../cbor/codec.js'
import type { UnverifiedBlock } from '../token/block.js'
import type { KnownChains } from '../token/chain.js'

/** Bytes counted per entry beyond the chain's own (objects, decoded caveats; measured by `npm run bench`). */
const ENTRY_OVERHEAD = 512
const BLOCK_OVERHEAD = 512
/** How many leading signature bytes key an entry (a key collision only costs a miss). */
const KEY_BYTES = 12

/** A bounded LRU set of verified chains. Size 0 turns it off. */
export class VerifiedChains implements KnownChains {
  private readonly entries = new Map<string, { readonly chain: readonly UnverifiedBlock[]; readonly cost: number }>()
  private readonly verified = new WeakSet<readonly UnverifiedBlock[]>()
  private bytes = 0
  constructor(
    private readonly maxEntries: number,
    private readonly maxBytes: number = maxEntries * 4096,
  ) {}

  /** Bytes accounted to the entries held now. */
  get size(): { readonly entries: number; readonly bytes: number } {
    return { entries: this.entries.size, bytes: this.bytes }
  }

  /** The verified chain whose encoding is exactly `raw` (`[principal, block+]`), if held. */
  find(raw: readonly CborValue[]): readonly UnverifiedBlock[] | undefined {
    const last = raw[raw.length - 1]
    if (!(last instanceof Uint8Array)) return undefined
    const id = key(last)
    const entry = this.entries.get(id)
    if (entry === undefined || !sameChain(raw, entry.chain)) return undefined
    // Most recently used last: re-insert.
    this.entries.delete(id)
    this.entries.set(id, entry)
    return entry.chain
  }

  /** Whether `chain` is one this cache handed out: every signature of it verified. */
  has(chain: readonly UnverifiedBlock[]): boolean {
    return this.verified.has(chain)
  }

  /**
   * Remember `chain`, whose every block signature has just been verified. What is kept is a copy
   * that holds only the chain's own bytes: the decoded blocks are views of the whole presentation
   * (an invocation's arguments included), which the byte budget would not see.
   */
  add(verified: readonly UnverifiedBlock[]): void {
    if (this.maxEntries === 0) return
    const cost = ENTRY_OVERHEAD + verified.reduce((n, b) => n + BLOCK_OVERHEAD + b.signature.length + b.payload.length, 32)
    if (cost > this.maxBytes) return
    const id = key((verified[verified.length - 1] as UnverifiedBlock).signature)
    this.remove(id)
    while (this.entries.size >= this.maxEntries || this.bytes + cost > this.maxBytes) {
      this.remove(this.entries.keys().next().value as string)
    }
    const chain = detached(verified)
    this.entries.set(id, { chain, cost })
    this.bytes += cost
    this.verified.add(chain)
  }

  private remove(id: string): void {
    const entry = this.entries.get(id)
    if (entry === undefined) return
    this.entries.delete(id)
    this.bytes -= entry.cost
  }
}

/** The chain with its principal, signatures and payloads moved into one buffer of their own. */
function detached(chain: readonly UnverifiedBlock[]): readonly UnverifiedBlock[] {
  const buffer = new Uint8Array(chain.reduce((n, b) => n + b.signature.length + b.payload.length, 32))
  const principal = buffer.subarray(0, 32)
  principal.set(chain[0]?.principal as Uint8Array)
  let at = 32
  const copy = (bytes: Uint8Array) => {
    const view = buffer.subarray(at, at + bytes.length)
    view.set(bytes)
    at += bytes.length
    return view
  }
  return chain.map((b) => ({
    ...b,
    signature: copy(b.signature),
    payload: copy(b.payload),
    principal: b.index === 0 ? principal : undefined,
  }))
}

function key(signature: Uint8Array): string {
  let s = ''
  for (let i = 0; i < KEY_BYTES; i++) s += String.fromCharCode(signature[i] ?? 0)
  return s
}

function sameChain(raw: readonly CborValue[], blocks: readonly UnverifiedBlock[]): boolean {
  if (raw.length !== blocks.length + 1) return false
  const principal = raw[0]
  const known = blocks[0]?.principal as Uint8Array
  if (!(principal instanceof Uint8Array) || principal.length !== known.length || !equal(principal, 0, known)) return false
  for (let i = 0; i < blocks.length; i++) {
    const wire = raw[i + 1]
    const b = blocks[i] as UnverifiedBlock
    if (!(wire instanceof Uint8Array) || wire.length !== b.signature.length + b.payload.length) return false
    if (!equal(wire, 0, b.signature) || !equal(wire, b.signature.length, b.payload)) return false
  }
  return true
}

/** Whether `whole[from … from + part.length)` equals `part` (the caller checked the lengths). */
function equal(whole: Uint8Array, from: number, part: Uint8Array): boolean {
  for (let i = 0; i < part.length; i++) if (whole[from + i] !== part[i]) return false
  return true
}
