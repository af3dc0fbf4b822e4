/**
 * What the runtime tests run inside each runtime (Chromium, workerd, Node ESM and CommonJS,
 * Bun, Deno): every conformance vector and scenario through the repository's own runners,
 * every Ed25519 profile vector through each available backend, a mint → attenuate →
 * invoke → verify round trip through token text, and an HTTP round trip (spec/http-v1.md) from
 * the agent's `createMandateFetch` to a guarded Fetch handler (`protect`), in-process with the
 * runtime's own Request, Response and Headers. Returns plain JSON for the test to compare.
 *
 * The library is imported as `../../../src/index.js` and `../../../src/http.js` so that the
 * repository type-checks this file; every bundle made by `test/helpers/runtime-build.ts`
 * replaces those imports (and the runners' own) with the package's `mandate` and
 * `mandate/http`, resolved through its `exports` as a user's bundler or runtime resolves them,
 * so what runs is dist/ as shipped. Only isomorphic entries: no `mandate/http/express` & co.
 */
import { createHttpGuard, createMandateFetch, protect } from '../../../src/http.js'
import {
  attenuate,
  availableBackends,
  createMemoryReplayCache,
  createMemoryRevocationView,
  createVerifier,
  formatInvocation,
  formatMandate,
  generateKeyPair,
  getBackend,
  invoke,
  MandateError,
  mint,
  parseMandate,
  toDidKey,
} from '../../../src/index.js'
import { matches, runVector, type Vector } from '../../../test-vectors/runner.js'
import { checkScenario, type Scenario } from '../../../test-vectors/scenario-runner.js'
import { type ED25519_FILES, ed25519Cases } from '../../helpers/ed25519-cases.js'

/** The vector files, parsed (the bundles inline them). */
export interface ProbeInput {
  readonly vectors: unknown
  readonly scenarios: unknown
  readonly ed25519: Readonly<Record<(typeof ED25519_FILES)[number], unknown>>
}

export interface Tally {
  readonly run: number
  /** One line per vector whose outcome differs from the expected one (empty: all agree). */
  readonly disagreements: string[]
}

export interface ProbeResult {
  /** The default backend's name, and all available here. */
  readonly backend: string
  readonly backends: string[]
  /** Globals a browser or a Worker does not have: the library must not need them. */
  readonly globals: { readonly Buffer: boolean; readonly process: boolean }
  readonly vectors: Tally
  readonly scenarios: Tally
  /** Per backend name. */
  readonly ed25519: Record<string, Tally>
  /** The round trip: the narrowed right is allowed, a right outside it denied. */
  readonly story: { readonly allowed: boolean; readonly chain: number; readonly outside: string }
  readonly http: HttpStory
  readonly ms: number
}

export async function probe(input: ProbeInput): Promise<ProbeResult> {
  const started = Date.now()
  const vectors = (input.vectors as { vectors: Vector[] }).vectors
  const vectorProblems: string[] = []
  for (const v of vectors) {
    try {
      const outcome = await runVector(v)
      if (!matches(v, outcome)) vectorProblems.push(`${v.id}: got ${JSON.stringify(outcome)}, expected ${JSON.stringify(v.expected)}`)
    } catch (e) {
      vectorProblems.push(`${v.id}: threw ${describe(e)}`)
    }
  }

  const scenarios = (input.scenarios as { scenarios: Scenario[] }).scenarios
  const scenarioProblems: string[] = []
  for (const s of scenarios) {
    try {
      scenarioProblems.push(...(await checkScenario(s)))
    } catch (e) {
      scenarioProblems.push(`${s.id}: threw ${describe(e)}`)
    }
  }

  const cases = ed25519Cases((name) => input.ed25519[name])
  const ed25519: Record<string, Tally> = {}
  for (const name of availableBackends()) {
    const backend = getBackend(name)
    const problems: string[] = []
    for (const c of cases) {
      try {
        const got = backend.verify(c.signature, c.message, c.publicKey)
        if (got !== c.expected) problems.push(`${c.file}#${c.id}: expected ${c.expected}, got ${got}`)
      } catch (e) {
        problems.push(`${c.file}#${c.id}: threw ${describe(e)}`)
      }
    }
    ed25519[name] = { run: cases.length, disagreements: problems }
  }

  return {
    backend: getBackend().name,
    backends: availableBackends(),
    globals: { Buffer: 'Buffer' in globalThis, process: 'process' in globalThis },
    vectors: { run: vectors.length, disagreements: vectorProblems },
    scenarios: { run: scenarios.length, disagreements: scenarioProblems },
    ed25519,
    story: await story(),
    http: await httpStory(),
    ms: Date.now() - started,
  }
}

/** A principal grants an agent email:*, the agent narrows it to email:read for a sub-agent. */
async function story(): Promise<ProbeResult['story']> {
  const alice = generateKeyPair()
  const agent = generateKeyPair()
  const sub = generateKeyPair()
  const now = Math.floor(Date.now() / 1000)
  const grant = mint({
    principal: alice,
    to: toDidKey(agent.publicKey),
    caveats: [
      { type: 'actions', patterns: ['email:*'] },
      { type: 'window', expires: now + 3600 },
    ],
  })
  const narrowed = attenuate(parseMandate(formatMandate(grant)), {
    key: agent,
    to: toDidKey(sub.publicKey),
    caveats: [{ type: 'actions', patterns: ['email:read'] }],
  })
  const verifier = createVerifier({
    roots: [toDidKey(alice.publicKey)],
    audience: 'mail',
    revocations: createMemoryRevocationView(),
  })
  const text = (action: string) => formatInvocation(invoke(parseMandate(formatMandate(narrowed)), { key: sub, action, audience: 'mail' }))
  const allowed = await verifier.authorize({ token: text('email:read') })
  const outside = await verifier.authorize({ token: text('email:send') })
  return {
    allowed: allowed.allowed,
    chain: allowed.allowed ? allowed.chain.length : 0,
    outside: outside.allowed ? 'allowed' : outside.code,
  }
}

/** Statuses and problem codes (`status/code`) of the HTTP round trip; see {@link httpStory}. */
export interface HttpStory {
  /** The agent's signed POST /send: the handler's status, and what it read of the body. */
  readonly allowed: number
  readonly received: string
  /** The very Request the agent sent, sent again. */
  readonly replayed: string
  /** A fresh invocation, its request sent with another body. */
  readonly swapped: string
  /** That invocation's own request, untouched, after the swap was refused. */
  readonly untouched: number
  /** No `Authorization`: status, `code` (none) and the challenge. */
  readonly missing: string
  /** How many requests reached the handler. */
  readonly handled: number
}

/**
 * An assistant holding `email:send` (to example.com) calls a mail API's POST /send: the API is
 * `protect(guard, route, handler)`, the agent's `fetch` hands each Request to it directly (no
 * network), so every byte passes through the runtime's own Request/Response/Headers.
 */
async function httpStory(): Promise<HttpStory> {
  const alice = generateKeyPair()
  const assistant = generateKeyPair()
  const grant = mint({
    principal: alice,
    to: toDidKey(assistant.publicKey),
    caveats: [
      { type: 'actions', patterns: ['email:send'] },
      { type: 'where', actions: ['email:send'], rules: [{ path: 'to', op: 'glob', value: '*@example.com' }] },
      { type: 'window', expires: Math.floor(Date.now() / 1000) + 3600 },
    ],
  })
  const verifier = createVerifier({
    roots: [toDidKey(alice.publicKey)],
    audience: 'mail',
    revocations: createMemoryRevocationView(),
    replay: createMemoryReplayCache(),
  })
  let handled = 0
  const handler = protect(
    createHttpGuard({ verifier }),
    ({ request, body }) => {
      if (request.headers.get('content-type') !== 'application/json') throw new MandateError('ERR_REQUEST_INVALID', 'not JSON')
      const { to } = JSON.parse(new TextDecoder().decode(body)) as { to?: unknown }
      if (typeof to !== 'string') throw new MandateError('ERR_REQUEST_INVALID', 'no "to"')
      return { action: 'email:send', resource: 'mailbox/alice', args: { to } }
    },
    async (request) => {
      handled++
      // The guard read a clone: the handler still has the request's own body.
      const { to } = (await request.json()) as { to: string }
      return Response.json({ sentTo: to })
    },
  )
  /** Every Request the agent made, cloned before the handler sees it. */
  const sent: Request[] = []
  const agent = (deliver: boolean) =>
    createMandateFetch({
      mandate: formatMandate(grant),
      key: assistant,
      audience: 'mail',
      fetch: async (input, init) => {
        const request = new Request(input, init)
        sent.push(request.clone())
        return deliver ? handler(request) : new Response(null, { status: 204 })
      },
    })
  const url = 'https://mail.example/send'
  const send = (call: ReturnType<typeof agent>) =>
    call(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ to: 'bob@example.com' }),
      mandate: { action: 'email:send', resource: 'mailbox/alice', args: { to: 'bob@example.com' } },
    })
  const outcome = async (res: Response) => `${res.status}/${((await res.json()) as { code?: string }).code ?? '-'}`

  const allowed = await send(agent(true))
  const received = ((await allowed.json()) as { sentTo: string }).sentTo
  const replayed = await outcome(await handler(sent[0] as Request))

  await send(agent(false))
  const held = sent[1] as Request
  const other = JSON.stringify({ to: 'bob@example.com', cc: 'eve@evil.test' })
  const swapped = await outcome(await handler(new Request(held.url, { method: held.method, headers: held.headers, body: other })))
  const untouched = (await handler(held)).status

  const none = await handler(new Request(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }))
  const missing = `${await outcome(none)} ${none.headers.get('www-authenticate')}`
  return { allowed: allowed.status, received, replayed, swapped, untouched, missing, handled }
}

function describe(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e)
}
