/**
 * The service suite against PostgreSQL, plus two service instances sharing one database.
 * Without PostgreSQL installed this says so loudly and skips — unless MANDATE_REQUIRE_POSTGRES
 * is set (as .ci/run does), in which case it fails.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  attenuate,
  createRevocation,
  formatMandate,
  formatRevocation,
  generateKeyPair,
  mint,
  parsePublicKey,
  toDidKey,
  verifyFeedPage,
} from '../../src/index.js'
import { postgresBin, useCluster } from '../helpers/postgres.js'
import { http, type RunningServer, startServer } from '../helpers/service.js'
import { serviceSuite } from './suite.js'

const available = postgresBin() !== undefined
if (!available) {
  const message = '\n\n*** PostgreSQL is not installed: the PostgreSQL service tests are SKIPPED (install postgresql to run them) ***\n'
  if (process.env['MANDATE_REQUIRE_POSTGRES']) throw new Error(message)
  console.warn(message)
}

describe.skipIf(!available)('PostgreSQL', () => {
  const url = useCluster()

  serviceSuite('PostgreSQL', (trust) => startServer({ db: url(), ...trust }))

  describe('two instances on one database', () => {
    let a: RunningServer
    let b: RunningServer
    const alice = generateKeyPair()
    const verifier = generateKeyPair()
    const trust = { roots: [`alice=${toDidKey(alice.publicKey)}`], verifiers: [`slack=${toDidKey(verifier.publicKey)}`] }
    beforeAll(async () => {
      ;[a, b] = await Promise.all([startServer({ db: url(), ...trust }), startServer({ db: url(), ...trust })])
    }, 60_000)
    afterAll(async () => {
      await Promise.all([a?.stop(), b?.stop()])
    })

    it('a revocation accepted by one instance is in the feed of the other; quotas are shared exactly', async () => {
      const now = Math.floor(Date.now() / 1000)
      const root = mint({ principal: alice, caveats: [{ type: 'window', expires: now + 3600 }] })
      const limited = attenuate(root, { caveats: [{ type: 'uses', max: 100 }] })
      const sibling = attenuate(root, {})
      const posted = await http(`${a.url}/v1/revocations`, {
        body: { revocation: formatRevocation(createRevocation({ mandate: sibling, key: alice })) },
      })
      expect(posted.status).toBe(201)
      const page = verifyFeedPage((await http(`${b.url}/v1/revocations?since=0`)).json, parsePublicKey(b.serviceKey))
      expect(page.entries.map((e) => e.blockId)).toContain(sibling.blocks[1]?.idHex)
      const key = `${limited.blocks[1]?.idHex}/0`
      let granted = 0
      let n = 0
      await Promise.all(
        Array.from({ length: 64 }, async (_, worker) => {
          while (n < 200) {
            const id = `r${n++}`
            const server = worker % 2 === 0 ? a : b
            const r = await http(`${server.url}/v1/usage/consume`, {
              body: { requestId: id, presentation: formatMandate(limited), counters: [key] },
              key: verifier,
            })
            expect(r.status).toBe(200)
            if (r.json['granted'] === true) granted++
          }
        }),
      )
      expect(granted).toBe(100)
      expect(toDidKey(parsePublicKey(a.serviceKey))).not.toBe(toDidKey(parsePublicKey(b.serviceKey)))
    })
  })
})
