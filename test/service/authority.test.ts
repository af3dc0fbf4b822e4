/**
 * The name a signed request is sent to, as a real node:http server receives it (spec/service-v1.md
 * §3.2 check 0): behind a proxy that ends TLS the service sees no scheme, only the Host its
 * client sent, so a port named or left out is read against each public URL's own scheme. And the
 * requests no route can take (a Host that is empty, no host name or named twice; a GET with a
 * body): 400 `ERR_REQUEST_MALFORMED`, with the error body every other 400 has. Raw TCP, so that
 * the Host, the request target and the header lines are exactly what is sent.
 */
import { mkdtempSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { signRequest } from '../../src/crypto/http-signature.js'
import { toDidKey } from '../../src/index.js'
import type { RunningService } from '../../src/service/server.js'
import { fixedKey } from '../helpers/fixtures.js'
import { startServiceIn } from '../helpers/service.js'

const alice = fixedKey('alice')
const carol = fixedKey('carol')
let service: RunningService
let port: number

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mandate-authority-'))
  service = await startServiceIn(dir, {
    trust: { roots: [{ key: toDidKey(alice.publicKey), name: 'alice' }] },
    publicUrls: ['https://secure.example', 'https://odd.example:80', 'http://plain.example:8080'],
  })
  port = Number(new URL(service.url).port)
})
afterAll(() => service?.close())

interface Raw {
  readonly status: number
  readonly code: string | undefined
}

/** Send `head` (the request line and header lines, CRLF-joined) and an optional body; read the answer. */
function raw(head: readonly string[], body = ''): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    let text = ''
    socket.setEncoding('latin1')
    socket.on('data', (d) => {
      text += d
    })
    socket.on('error', reject)
    socket.on('close', () => {
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1])
      const json = text.slice(text.indexOf('\r\n\r\n') + 4)
      let code: string | undefined
      try {
        code = JSON.parse(json).error?.code
      } catch {
        code = undefined
      }
      resolve({ status, code })
    })
    socket.write(`${[...head, 'connection: close'].join('\r\n')}\r\n\r\n${body}`)
  })
}

/** A GET of the caller's inbox, signed for `url`, sent with the Host `host`. */
function inbox(url: string, host: string, target = '/v1/approvals'): Promise<Raw> {
  const headers = signRequest({ method: 'GET', url }, carol)
  return raw([`GET ${target} HTTP/1.1`, `host: ${host}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)])
}

const at = (r: Raw) => [r.status, r.code]

describe('the name a signed request was sent to', () => {
  it("a port left out is the default of the public URL's scheme; one named must be that URL's port", async () => {
    // https://secure.example: the client signs `secure.example` whether or not it wrote :443.
    expect(at(await inbox('https://secure.example/v1/approvals', 'secure.example'))).toEqual([200, undefined])
    expect(at(await inbox('https://secure.example/v1/approvals', 'secure.example:443'))).toEqual([200, undefined])
    expect(at(await inbox('https://secure.example:443/v1/approvals', 'Secure.Example:443'))).toEqual([200, undefined])
    // :80 is not where https://secure.example is reached.
    expect(at(await inbox('https://secure.example/v1/approvals', 'secure.example:80'))).toEqual([401, 'ERR_AUTH_INVALID'])
    // https on port 80: reached only as odd.example:80.
    expect(at(await inbox('https://odd.example:80/v1/approvals', 'odd.example:80'))).toEqual([200, undefined])
    expect(at(await inbox('https://odd.example:80/v1/approvals', 'odd.example'))).toEqual([401, 'ERR_AUTH_INVALID'])
    expect(at(await inbox('http://plain.example:8080/v1/approvals', 'PLAIN.example:8080'))).toEqual([200, undefined])
    expect(at(await inbox('http://plain.example:8080/v1/approvals', 'plain.example:08080'))).toEqual([200, undefined])
    expect(at(await inbox('http://plain.example:8080/v1/approvals', 'plain.example'))).toEqual([401, 'ERR_AUTH_INVALID'])
    // Signed for one name, sent to another of ours: the signature covers the name.
    expect(at(await inbox('https://secure.example/v1/approvals', 'plain.example:8080'))).toEqual([401, 'ERR_AUTH_INVALID'])
  })

  it('an absolute-form target names the authority itself (RFC 9112 §3.2.2): its Host is not read', async () => {
    expect(at(await inbox('https://secure.example/v1/approvals', 'elsewhere.example', 'https://secure.example/v1/approvals'))).toEqual([
      200,
      undefined,
    ])
    expect(at(await inbox('https://secure.example/v1/approvals', 'secure.example', 'https://elsewhere.example/v1/approvals'))).toEqual([
      401,
      'ERR_AUTH_INVALID',
    ])
    // The target's scheme is its own: http://secure.example is not https://secure.example.
    expect(at(await inbox('http://secure.example/v1/approvals', 'secure.example', 'http://secure.example/v1/approvals'))).toEqual([
      401,
      'ERR_AUTH_INVALID',
    ])
  })

  it('HTTP/1.0 without a Host reaches no name (its URL would name the listen address); a public route still answers', async () => {
    const headers = signRequest({ method: 'GET', url: `http://127.0.0.1/v1/approvals` }, carol)
    const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}`)
    expect(at(await raw(['GET /v1/approvals HTTP/1.0', ...lines]))).toEqual([401, 'ERR_AUTH_INVALID'])
    expect(at(await raw(['GET /healthz HTTP/1.0']))).toEqual([200, undefined])
  })
})

describe('requests no route can take: 400 ERR_REQUEST_MALFORMED, with its error body', () => {
  it('a Host that is empty, no host name, or named twice; on a public route too', async () => {
    for (const host of ['', 'a b', '@@@', 'user@127.0.0.1', '127.0.0.1:65536', '127.0.0.1:x']) {
      expect([host, ...at(await raw(['GET /healthz HTTP/1.1', `host: ${host}`]))]).toEqual([host, 400, 'ERR_REQUEST_MALFORMED'])
    }
    const twice = await raw(['GET /healthz HTTP/1.1', 'host: secure.example', 'host: elsewhere.example'])
    expect(at(twice)).toEqual([400, 'ERR_REQUEST_MALFORMED'])
    // One Host: the probe answers.
    expect(at(await raw(['GET /healthz HTTP/1.1', 'host: secure.example']))).toEqual([200, undefined])
  })

  it('a GET or HEAD that carries a body, signed with its digest or without, before its signature is read', async () => {
    const body = '{"x":1}'
    const withDigest = signRequest(
      { method: 'GET', url: 'https://secure.example/v1/approvals', body: new TextEncoder().encode(body) },
      carol,
    )
    const signed = (headers: Record<string, string>) => Object.entries(headers).map(([k, v]) => `${k}: ${v}`)
    const get = ['GET /v1/approvals HTTP/1.1', 'host: secure.example']
    expect(at(await raw([...get, ...signed(withDigest), `content-length: ${body.length}`], body))).toEqual([400, 'ERR_REQUEST_MALFORMED'])
    const without = signRequest({ method: 'GET', url: 'https://secure.example/v1/approvals' }, carol)
    expect(at(await raw([...get, ...signed(without), `content-length: ${body.length}`], body))).toEqual([400, 'ERR_REQUEST_MALFORMED'])
    expect(
      at(await raw([...get, ...signed(without), 'transfer-encoding: chunked'], `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`)),
    ).toEqual([400, 'ERR_REQUEST_MALFORMED'])
    // A length of 0, however written, is no body.
    for (const zero of ['0', '00']) {
      const empty = signRequest({ method: 'GET', url: 'https://secure.example/v1/approvals' }, carol)
      expect(at(await raw([...get, ...signed(empty), `content-length: ${zero}`]))).toEqual([200, undefined])
    }
  })
})
