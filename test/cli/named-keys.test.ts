/**
 * `NAME=KEY` lists of `mandate serve` (served principals, registered verifiers) and the names a
 * service answers signed requests under.
 */
import { writeFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { CliError } from '../../src/cli/errors.js'
import { namedKeysFile, parseNamedKeys } from '../../src/cli/named-keys.js'
import { generateKeyPair, toDidKey } from '../../src/index.js'
import { toHex } from '../../src/internal/bytes.js'
import { serviceAuthorities } from '../../src/service/server.js'
import { scratch } from '../helpers/cli.js'

const key = generateKeyPair()
const did = toDidKey(key.publicKey)
const usageMessage = (f: () => unknown) => {
  try {
    f()
  } catch (e) {
    if (e instanceof CliError) return [e.exit, e.message]
    throw e
  }
  return undefined
}

describe('NAME=KEY lists', () => {
  it('reads names and keys in any key form, skipping blanks and comments; keys come out as did:key', () => {
    expect(parseNamedKeys([`mail=${did}`, ' ', '# a comment', `calendar=${toHex(key.publicKey)}`], '--verifier', true)).toEqual([
      { name: 'mail', key: did },
      { name: 'calendar', key: did },
    ])
    expect(parseNamedKeys([did], '--root', false)).toEqual([{ key: did }])
  })

  it('a missing name (where one is required) or a key that is not one stops the start (exit 2)', () => {
    expect(usageMessage(() => parseNamedKeys([did], '--verifier', true))).toEqual([2, expect.stringContaining('expected NAME=KEY')])
    expect(usageMessage(() => parseNamedKeys(['mail=did:key:zNope'], '--verifier', true))).toEqual([
      2,
      expect.stringContaining('is not an Ed25519 public key'),
    ])
  })

  it('a verifiers file: one entry a line; an unreadable file is a usage error', () => {
    const path = join(scratch(), 'verifiers.txt')
    writeFileSync(path, `# NAME=KEY\nmail=${did}\r\n\nslack=${did}\n`)
    expect(parseNamedKeys(namedKeysFile(path, '--verifiers-file'), '--verifier', true).map((v) => v.name)).toEqual(['mail', 'slack'])
    expect(usageMessage(() => namedKeysFile(join(scratch(), 'absent.txt'), '--verifiers-file'))).toEqual([
      2,
      expect.stringContaining('cannot read'),
    ])
  })
})

describe('the names signed requests may address', () => {
  const at = (address: string, port = 8787): AddressInfo => ({ address, port, family: address.includes(':') ? 'IPv6' : 'IPv4' })

  it('the public URLs when given, as origins (default ports left out, lower case)', () => {
    expect(
      serviceAuthorities(['https://Mandate.Example', 'http://proxy.example:8080/', 'https://odd.example:80'], at('127.0.0.1')),
    ).toEqual(['https://mandate.example', 'http://proxy.example:8080', 'https://odd.example:80'])
  })

  it('a loopback address answers to localhost and both loopback addresses too; another address only to itself', () => {
    expect(serviceAuthorities([], at('127.0.0.1')).sort()).toEqual(['127.0.0.1:8787', '[::1]:8787', 'localhost:8787'])
    expect(serviceAuthorities([], at('10.1.2.3'))).toEqual(['10.1.2.3:8787'])
  })

  it('a wildcard address answers to every address of this machine and its host name', () => {
    const names = serviceAuthorities([], at('0.0.0.0'))
    expect(names).toContain('127.0.0.1:8787')
    expect(names).toContain(`${hostname().toLowerCase()}:8787`)
    expect(names).not.toContain('other.example:8787')
  })
})
