import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { bareRequestId } from '../../src/verify/request-id.js'

// The construction of spec §6 (uses, Idempotency), written out independently of src/.
function expected(c: string, action: string, resource: string | undefined, argsCbor: string): string {
  const pieces = ['mandate/v1/request-id', c, action, resource ?? ''].map((t) => Buffer.from(t, 'utf8'))
  pieces.push(Buffer.from(argsCbor, 'hex'))
  const le64 = (n: number) => {
    const b = Buffer.alloc(8)
    b.writeBigUInt64LE(BigInt(n))
    return b
  }
  const pae = Buffer.concat([le64(pieces.length), ...pieces.flatMap((p) => [le64(p.length), p])])
  return createHash('sha256').update(pae).digest('hex')
}

describe('the request id a bare mandate is counted under', () => {
  it('is SHA-256 of PAE(domain, caller id, action, resource, canonical args)', () => {
    expect(bareRequestId('job-1', { action: 'email:read', args: Object.create(null) })).toBe(
      expected('job-1', 'email:read', undefined, '80'),
    )
    expect(bareRequestId('job-1', { action: 'email:read', resource: 'mail/1', args: { b: 2, a: 'x' } })).toBe(
      // [["a", "x"], ["b", 2]]
      expected('job-1', 'email:read', 'mail/1', '82826161617882616202'),
    )
  })

  it('differs for another caller id, action, resource or argument, and not for key order', () => {
    const base = { action: 'email:read', resource: 'mail/1', args: { a: 1, b: 2 } }
    const id = bareRequestId('k', base)
    expect(bareRequestId('k2', base)).not.toBe(id)
    expect(bareRequestId('k', { ...base, action: 'email:list' })).not.toBe(id)
    expect(bareRequestId('k', { ...base, resource: 'mail/2' })).not.toBe(id)
    expect(bareRequestId('k', { action: 'email:read', args: base.args })).not.toBe(id)
    expect(bareRequestId('k', { ...base, args: { a: 1, b: 3 } })).not.toBe(id)
    expect(bareRequestId('k', { ...base, args: { b: 2, a: 1 } })).toBe(id)
  })
})
