/**
 * The README's "verifiers in worker threads" pattern, for real: four worker threads, each with
 * its own verifier over one service (the built package, as an application loads it), share a
 * usage budget, replay claims and the revocation view through the service — none of them can
 * grant more than the budget, accept an invocation twice, or miss a revocation once synced.
 */
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { Worker } from 'node:worker_threads'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createRevocation,
  exportSecretKeyPem,
  formatInvocation,
  formatRevocation,
  generateKeyPair,
  invoke,
  mint,
  toDidKey,
  type UnverifiedMandate,
} from '../../src/index.js'
import type { RunningService } from '../../src/service/server.js'
import { scratch } from '../helpers/cli.js'
import { http, startServiceIn } from '../helpers/service.js'

const THREADS = 4
const LIB = pathToFileURL(join(import.meta.dirname, '../../dist/index.node.js')).href

/** One worker's verifier, as the README builds it; it answers `{ invocation, sync? }` with a decision. */
const THREAD = `
const { parentPort, workerData } = require('node:worker_threads')
;(async () => {
  const m = await import(workerData.lib)
  const key = m.importSecretKeyPem(workerData.pem)
  const { url, serviceKey } = workerData
  const revocations = m.createFeedRevocationView({ url, serviceKey })
  await revocations.sync()
  const verifier = m.createVerifier({
    roots: [{ name: 'alice', key: workerData.root }],
    audience: 'mail',
    revocations,
    usage: m.createRemoteUsageStore({ url, key }),
    replay: m.createRemoteReplayCache({ url, key }),
  })
  parentPort.on('message', async ({ id, invocation, sync }) => {
    if (sync) await revocations.sync()
    const d = await verifier.authorize({ invocation })
    parentPort.postMessage({ id, allowed: d.allowed, code: d.allowed ? undefined : d.code })
  })
  parentPort.postMessage({ ready: true })
})().catch((e) => parentPort.postMessage({ failed: String(e && e.stack || e) }))
`

interface Answer {
  readonly allowed: boolean
  readonly code?: string
}

/** A worker thread running THREAD, and a way to ask it for a decision. */
class Thread {
  private next = 0
  private readonly waiting = new Map<number, (a: Answer) => void>()
  readonly ready: Promise<void>
  constructor(readonly worker: Worker) {
    this.ready = new Promise((resolve, reject) => {
      worker.on('message', (m: { ready?: true; failed?: string; id?: number } & Answer) => {
        if (m.ready) resolve()
        else if (m.failed) reject(new Error(m.failed))
        else this.waiting.get(m.id as number)?.(m)
      })
      worker.on('error', reject)
    })
  }
  decide(invocation: string, sync = false): Promise<Answer> {
    const id = this.next++
    return new Promise((resolve) => {
      this.waiting.set(id, resolve)
      this.worker.postMessage({ id, invocation, sync })
    })
  }
}

describe('verifiers in worker threads share state through the service', () => {
  const alice = generateKeyPair()
  const agent = generateKeyPair()
  const mail = generateKeyPair()
  const now = () => Math.floor(Date.now() / 1000)
  let service: RunningService
  let threads: Thread[]

  beforeAll(async () => {
    service = await startServiceIn(scratch(), {
      trust: { roots: [{ name: 'alice', key: toDidKey(alice.publicKey) }], verifiers: [{ name: 'mail', key: toDidKey(mail.publicKey) }] },
    })
    const workerData = {
      lib: LIB,
      pem: exportSecretKeyPem(mail.secretKey),
      url: service.url,
      serviceKey: service.serviceKey,
      root: toDidKey(alice.publicKey),
    }
    threads = Array.from({ length: THREADS }, () => new Thread(new Worker(THREAD, { eval: true, workerData })))
    await Promise.all(threads.map((t) => t.ready))
  })
  afterAll(async () => {
    await Promise.all((threads ?? []).map((t) => t.worker.terminate()))
    await service?.close()
  })

  const grant = (caveats: Parameters<typeof mint>[0]['caveats'] = []): UnverifiedMandate =>
    mint({
      principal: alice,
      to: toDidKey(agent.publicKey),
      now: now(),
      caveats: [{ type: 'actions', patterns: ['mail:read'] }, { type: 'window', expires: now() + 3600 }, ...caveats],
    })
  const request = (m: UnverifiedMandate) => formatInvocation(invoke(m, { key: agent, action: 'mail:read', audience: 'mail', now: now() }))

  it('a budget of 5 uses is granted 5 times in all, whichever threads ask, all at once', async () => {
    const limited = grant([{ type: 'uses', max: 5 }])
    const asks = Array.from({ length: 24 }, (_, i) => (threads[i % THREADS] as Thread).decide(request(limited)))
    const answers = await Promise.all(asks)
    expect(answers.filter((a) => a.allowed)).toHaveLength(5)
    expect(new Set(answers.filter((a) => !a.allowed).map((a) => a.code))).toEqual(new Set(['ERR_USAGE_EXHAUSTED']))
  })

  it('one invocation presented to every thread at once is accepted by one of them', async () => {
    const once = request(grant())
    const answers = await Promise.all(threads.map((t) => t.decide(once)))
    expect(answers.filter((a) => a.allowed)).toHaveLength(1)
    expect(answers.filter((a) => !a.allowed).map((a) => a.code)).toEqual(['ERR_REPLAY', 'ERR_REPLAY', 'ERR_REPLAY'])
  })

  it('a revocation sent to the service is seen by every thread once it syncs', async () => {
    const revoked = grant()
    const before = await Promise.all(threads.map((t) => t.decide(request(revoked))))
    expect(before.every((a) => a.allowed)).toBe(true)
    const statement = formatRevocation(createRevocation({ mandate: revoked, key: alice, now: now() }))
    const sent = await http(`${service.url}/v1/revocations`, { body: { revocation: statement } })
    expect(sent.status).toBe(201)
    const after = await Promise.all(threads.map((t) => t.decide(request(revoked), true)))
    expect(after.map((a) => a.code)).toEqual(Array(THREADS).fill('ERR_REVOKED'))
  })
})
