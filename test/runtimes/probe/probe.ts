/**
 * What the runtime tests run inside each runtime (Chromium, workerd, Node ESM and CommonJS,
 * Bun, Deno): every conformance vector and scenario through the repository's own runners,
 * every Ed25519 profile vector through each available backend, and a mint → attenuate →
 * invoke → verify round trip through token text. Returns plain JSON for the test to compare.
 *
 * The library is imported as `../../../src/index.js` so that the repository type-checks this
 * file; every bundle made by `test/helpers/runtime-build.ts` replaces that import (and the
 * runners' own) with the package `mandate`, resolved through its `exports` as a user's bundler
 * or runtime resolves it, so what runs is dist/ as shipped.
 */
import {
  attenuate,
  availableBackends,
  createMemoryRevocationView,
  createVerifier,
  formatInvocation,
  formatMandate,
  generateKeyPair,
  getBackend,
  invoke,
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

function describe(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e)
}
