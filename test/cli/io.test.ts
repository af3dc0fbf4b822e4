/**
 * The CLI's own output path (`direct` in src/cli/io.ts), with the descriptor's writes and the
 * fallback stream replaced: what a refused, failed or partial write does, on standard output
 * and on standard error. test/cli/shell.test.ts runs the same against real pipes and /dev/full.
 */
import { EventEmitter } from 'node:events'
import { describe, expect, it } from 'vitest'
import { direct } from '../../src/cli/io.js'

const failure = (code: string) => Object.assign(new Error(code), { code })

/** A descriptor that takes `takes[i]` bytes at the i-th write, or throws it when it is an error. */
function descriptor(takes: readonly (number | Error)[]) {
  const chunks: Buffer[] = []
  let call = 0
  const write = (_fd: number, bytes: Uint8Array, offset: number): number => {
    const take = takes[call++] ?? bytes.length - offset
    if (take instanceof Error) throw take
    chunks.push(Buffer.from(bytes.subarray(offset, offset + take)))
    return take
  }
  // Decoded whole: a partial write may end inside a character.
  return { write, text: () => Buffer.concat(chunks).toString('utf8'), writes: () => chunks.length }
}

/** A stream that keeps what it is given; `fail` emits an error on it, as a socket does later. */
function fallback() {
  const emitter = new EventEmitter()
  const got: string[] = []
  let made = 0
  const stream = Object.assign(emitter, {
    write(chunk: string | Uint8Array) {
      got.push(Buffer.from(chunk).toString('utf8'))
      return true
    },
  }) as unknown as NodeJS.WritableStream
  return {
    make: () => {
      made++
      return stream
    },
    got,
    made: () => made,
    fail: (e: Error) => emitter.emit('error', e),
  }
}

describe('direct output', () => {
  it('loops over partial writes, and never makes the stream when the descriptor takes everything', () => {
    const fd = descriptor([2, 1])
    const s = fallback()
    const out = direct(1, s.make, fd.write)
    out.write('héllo')
    expect([fd.text(), fd.writes()]).toEqual(['héllo', 3])
    expect(s.made()).toBe(0)
  })

  it('after EAGAIN, the rest and everything later go through the stream, in order, and it is made once', () => {
    const fd = descriptor([3, failure('EAGAIN')])
    const s = fallback()
    const out = direct(1, s.make, fd.write)
    out.write('abcdef')
    out.write('gh')
    expect([fd.text(), s.got.join('')]).toEqual(['abc', 'defgh'])
    expect(s.made()).toBe(1)
  })

  it('EPIPE ends the output quietly, on the descriptor and on the stream', () => {
    for (const fd of [1, 2] as const) {
      const d = descriptor([failure('EPIPE')])
      const out = direct(fd, fallback().make, d.write)
      out.write('a')
      out.write('b')
      expect(d.writes()).toBe(0)
      const s = fallback()
      const viaStream = direct(fd, s.make, descriptor([failure('EAGAIN')]).write)
      viaStream.write('a')
      s.fail(failure('EPIPE'))
      viaStream.write('b')
      expect(s.got).toEqual(['a'])
    }
  })

  it('any other failure throws on standard output, and ends standard error quietly — on either path', () => {
    expect(() => direct(1, fallback().make, descriptor([failure('EIO')]).write).write('a')).toThrow('EIO')
    const err = descriptor([failure('ENOSPC')])
    const quiet = direct(2, fallback().make, err.write)
    quiet.write('a')
    quiet.write('b')
    expect(err.writes()).toBe(0)

    const out = fallback()
    direct(1, out.make, descriptor([failure('EAGAIN')]).write).write('a')
    expect(() => out.fail(failure('EIO'))).toThrow('EIO')

    const errStream = fallback()
    const viaStream = direct(2, errStream.make, descriptor([failure('EAGAIN')]).write)
    viaStream.write('a')
    expect(() => errStream.fail(failure('EIO'))).not.toThrow()
    viaStream.write('b')
    expect(errStream.got).toEqual(['a'])
  })
})
