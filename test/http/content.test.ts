/**
 * Reading a Fetch request's content for the guard (src/http/body.ts `requestContent`): from a
 * clone, so that the handler still reads the request's own body; bounded by the limit; and
 * where `Request.body` is not implemented (Firefox), from the clone's `arrayBuffer()`.
 */
import { describe, expect, it } from 'vitest'
import { BodyTooLarge, requestContent } from '../../src/http/body.js'

const USED = 'the body was already read'
const post = (body: string | ReadableStream<Uint8Array> | null, headers: Record<string, string> = {}) =>
  new Request('https://api.test/send', { method: 'POST', body, headers, ...(body instanceof ReadableStream ? { duplex: 'half' } : {}) })

/** A request as a browser without `Request.body` gives it: the same object, minus the stream. */
function withoutBodyStream(request: Request): Request {
  return new Proxy(request, {
    get(target, key) {
      if (key === 'body') return undefined
      if (key === 'clone') return () => withoutBodyStream(target.clone())
      const value = Reflect.get(target, key, target)
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
}

describe('requestContent', () => {
  it('reads the exact bytes from a clone and leaves the body to the handler', async () => {
    const request = post('{"to":"bob@example.com"}')
    expect(new TextDecoder().decode(await requestContent(request, 1024, USED))).toBe('{"to":"bob@example.com"}')
    expect(await request.text()).toBe('{"to":"bob@example.com"}')
  })

  it('is empty without content', async () => {
    expect(await requestContent(new Request('https://api.test/inbox'), 1024, USED)).toEqual(new Uint8Array(0))
  })

  it('refuses a declared length over the limit unread, and streamed content past it', async () => {
    const declared = post('x'.repeat(10), { 'content-length': '2048' })
    await expect(requestContent(declared, 1024, USED)).rejects.toEqual(new BodyTooLarge(1024))
    const chunks = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < 3; i++) c.enqueue(new Uint8Array(512))
        c.close()
      },
    })
    await expect(requestContent(post(chunks), 1024, USED)).rejects.toEqual(new BodyTooLarge(1024))
  })

  it('stops at the limit a stream that goes on, and names the limit', async () => {
    let pulled = 0
    const endless = new ReadableStream<Uint8Array>({
      pull(c) {
        pulled += 1
        c.enqueue(new Uint8Array(256))
      },
    })
    const refused = await requestContent(post(endless), 1024, USED).catch((e: unknown) => e)
    expect(refused).toBeInstanceOf(BodyTooLarge)
    expect([(refused as Error).name, (refused as Error).message]).toEqual(['BodyTooLarge', 'the request content is larger than 1024 bytes'])
    expect(pulled).toBeLessThan(10)
    // Text content in one piece, over the limit: refused too (the request's own body stays unread).
    await expect(requestContent(post('x'.repeat(2048)), 1024, USED)).rejects.toThrow('the request content is larger than 1024 bytes')
  })

  it('takes exactly the limit, and trusts a declared length only when it is a whole number', async () => {
    const exactly = 'x'.repeat(1024)
    expect(await requestContent(post(exactly, { 'content-length': '1024' }), 1024, USED)).toHaveLength(1024)
    expect(await requestContent(withoutBodyStream(post(exactly)), 1024, USED)).toHaveLength(1024)
    for (const declared of ['1e9', '0x100000', '99999.5']) {
      expect(new TextDecoder().decode(await requestContent(post('{}', { 'content-length': declared }), 1024, USED)), declared).toBe('{}')
    }
  })

  it("refuses a body already read, with the caller's message", async () => {
    const request = post('{}')
    await request.text()
    await expect(requestContent(request, 1024, USED)).rejects.toThrow(USED)
  })

  it('without Request.body (Firefox): the whole clone, then the limit', async () => {
    const request = withoutBodyStream(post('{"to":"bob@example.com"}'))
    expect(request.body).toBeUndefined()
    expect(new TextDecoder().decode(await requestContent(request, 1024, USED))).toBe('{"to":"bob@example.com"}')
    await expect(requestContent(withoutBodyStream(post('x'.repeat(2048))), 1024, USED)).rejects.toEqual(new BodyTooLarge(1024))
    expect(await requestContent(withoutBodyStream(new Request('https://api.test/inbox')), 1024, USED)).toEqual(new Uint8Array(0))
  })
})
