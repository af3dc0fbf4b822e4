/**
 * Runs one scenario vector (`test-vectors/v1/scenarios.json`) against this implementation:
 * one verifier per scenario, whose clock reads the time of the step being run, with an
 * in-memory usage store, replay cache and revocation view that live for the whole scenario.
 * Shared by the generator (`test-vectors/scenarios.ts`, which refuses to write a scenario
 * whose stated outcomes the implementation does not produce) and by
 * `test/vectors/scenarios.test.ts` (which runs the committed file).
 *
 * Another implementation needs the same four things: a verifier, a usage store, a replay
 * cache and a revocation view, all in memory, and a reader of revocation statements (spec
 * §9.1) for the amend and lift steps. Tokens and statements are embedded as text.
 */
import {
  createMemoryReplayCache,
  createMemoryRevocationView,
  createMemoryUsageStore,
  createVerifier,
  type Decision,
  MandateError,
  type MemoryRevocationView,
  parseRevocation,
  toDidKey,
  verifyRevocation,
} from '../src/index.js'

/** Where a token in a scenario came from; the runner only records `text` under `name`. */
export interface IssueStep {
  readonly at: number
  readonly issue: {
    readonly name: string
    readonly op: 'mint' | 'attenuate' | 'seal' | 'invoke' | 'approve'
    /** The token it was made from (attenuate, seal, invoke, approve). */
    readonly from?: string
    /** The role whose key signed it (keys.json). */
    readonly by: string
    /** mnd1_… (mint, attenuate, seal), mni1_… (invoke) or mna1_… (approve). */
    readonly text: string
    /** Block ids (hex) of a mandate, block 0 first; for revocation steps and readers. */
    readonly blocks?: readonly string[]
    /** What the token says, for readers: holder, caveats, request, approval lifetime. */
    readonly summary?: string
  }
}

/** Present a token to the verifier; the outcome must equal `expected` exactly. */
export interface PresentStep {
  readonly at: number
  readonly present: {
    /** Name of an earlier issued token: a mandate (bare) or an invocation. */
    readonly token: string
    /** The request, for a bare mandate. */
    readonly request?: { readonly action: string; readonly resource?: string; readonly args?: Record<string, never> }
    /** Names of earlier issued approvals. */
    readonly approvals?: readonly string[]
    /** Idempotency key for the usage consume of a bare mandate; absent: a fresh one. */
    readonly request_id?: string
  }
  readonly expected: StepOutcome
  readonly note?: string
}

/** Add an entry to the revocation view (effective from `at`). */
export interface RevokeStep {
  readonly at: number
  readonly revoke?: { readonly block_id: string; readonly actions?: readonly string[] }
  readonly suspend?: { readonly block_id: string; readonly actions?: readonly string[] }
  readonly note?: string
}

/** Lift every suspension of a block (revocations stay). */
export interface ResumeStep {
  readonly at: number
  readonly resume: { readonly block_id: string }
  readonly note?: string
}

/**
 * A signed amendment statement (spec §9.1, §9.2) reaches the view: checked as a statement, and
 * applied to the view when valid. Only `statement` is read; the other members repeat what it
 * says, for readers.
 */
export interface AmendStep {
  readonly at: number
  readonly amend: {
    /** mnr1_…: a statement of kind 3 (amend). */
    readonly statement: string
    /** The role whose key signed it (keys.json). */
    readonly by: string
    /** Its target: the last block of its prefix. */
    readonly block_id: string
    /** Its id: SHA-256 of its signature, the amendment's id. */
    readonly id: string
    /** Hex of the CBOR of its caveat list (key 9). */
    readonly caveats: string
    /** The caveats in words. */
    readonly summary?: string
  }
  readonly expected: StatementOutcome
  readonly note?: string
}

/** A signed lift statement (kind 4) reaches the view: checked, and applied when valid. */
export interface LiftStep {
  readonly at: number
  readonly lift: {
    /** mnr1_…: a statement of kind 4 (lift). */
    readonly statement: string
    readonly by: string
    readonly block_id: string
    readonly id: string
    /** The id of the amendment it lifts (key 10). */
    readonly lifts: string
  }
  readonly expected: StatementOutcome
  readonly note?: string
}

/** What checking a statement gave: valid (and applied), or refused at `stage` with `code`. */
export type StatementOutcome =
  | { readonly valid: true }
  | { readonly valid: false; readonly stage: 'parse' | 'verify'; readonly code: string }

export type Step = IssueStep | PresentStep | RevokeStep | ResumeStep | AmendStep | LiftStep

export interface Scenario {
  readonly id: string
  readonly title: string
  readonly audience: string
  readonly roots: readonly { readonly key: string; readonly name?: string }[]
  readonly steps: readonly Step[]
}

/**
 * A decision in the vectors' terms. Absent fields mean the decision carries none: `block` and
 * `caveat` only where the denial is located, `amendment` only where an amendment's caveat
 * denied, `remaining` only on an allow that touched usage counters (counter key
 * `<block id hex>/<caveat index>`, or `<amendment id>/<index>`, → uses left).
 */
export interface StepOutcome {
  readonly decision: 'allow' | 'deny'
  readonly code?: string
  readonly block?: number
  readonly caveat?: string
  /** The id of the amendment whose caveat denied. */
  readonly amendment?: string
  readonly remaining?: Readonly<Record<string, number>>
}

/** What a step with an expectation gives: a decision (present) or a statement's check (amend, lift). */
export type Outcome = StepOutcome | StatementOutcome

/** The outcome of every step that states one (present, amend, lift), in order, with its index in `steps`. */
export async function runScenario(s: Scenario): Promise<{ step: number; outcome: Outcome }[]> {
  let now = 0
  const tokens = new Map<string, string>()
  const revocations = createMemoryRevocationView(() => now)
  const verifier = createVerifier({
    roots: s.roots,
    audience: s.audience,
    clock: () => now,
    revocations,
    usage: createMemoryUsageStore(),
    replay: createMemoryReplayCache(),
  })
  const text = (name: string): string => {
    const t = tokens.get(name)
    if (t === undefined) throw new Error(`scenario ${s.id}: no token named ${name} issued before its use`)
    return t
  }
  const out: { step: number; outcome: Outcome }[] = []
  for (const [i, step] of s.steps.entries()) {
    if (!Number.isSafeInteger(step.at) || step.at < now) throw new Error(`scenario ${s.id}, step ${i}: times must not decrease`)
    now = step.at
    if ('issue' in step) {
      if (tokens.has(step.issue.name)) throw new Error(`scenario ${s.id}: token ${step.issue.name} issued twice`)
      tokens.set(step.issue.name, step.issue.text)
    } else if ('present' in step) {
      const p = step.present
      const d = await verifier.authorize({
        token: text(p.token),
        ...(p.request ? { request: p.request } : {}),
        ...(p.approvals ? { approvals: p.approvals.map(text) } : {}),
        ...(p.request_id === undefined ? {} : { requestId: p.request_id }),
      })
      out.push({ step: i, outcome: outcomeOf(d) })
    } else if ('resume' in step) {
      revocations.resume(step.resume.block_id)
    } else if ('amend' in step) {
      out.push({ step: i, outcome: applyStatement(revocations, step.amend.statement, 'amend', now, s.id) })
    } else if ('lift' in step) {
      out.push({ step: i, outcome: applyStatement(revocations, step.lift.statement, 'lift', now, s.id) })
    } else if (step.revoke || step.suspend) {
      const e = (step.revoke ?? step.suspend) as NonNullable<RevokeStep['revoke']>
      const entry = { at: now, ...(e.actions ? { actions: e.actions } : {}) }
      if (step.revoke) revocations.revoke(e.block_id, entry)
      else revocations.suspend(e.block_id, entry)
    } else throw new Error(`scenario ${s.id}, step ${i}: unknown step`)
  }
  return out
}

/**
 * Check a statement (spec §9.1: parse, then every signature and the signer's authority) and,
 * when valid, apply it to the view at `now`: an amendment in force on its target block under its
 * id, with its caveats; a lift ends the amendment it names on its target block (nothing, if
 * the view holds none by that id there).
 */
function applyStatement(view: MemoryRevocationView, text: string, kind: 'amend' | 'lift', now: number, scenario: string): StatementOutcome {
  let stage: 'parse' | 'verify' = 'parse'
  try {
    const s = parseRevocation(text)
    stage = 'verify'
    verifyRevocation(s)
    if (s.kind !== kind) throw new Error(`scenario ${scenario}: an ${kind} step holds a statement of kind ${s.kind}`)
    if (kind === 'amend') {
      view.amend(s.target.idHex, {
        id: s.id,
        caveats: s.caveats,
        at: now,
        by: toDidKey(s.signer),
        ...(s.reason === undefined ? {} : { reason: s.reason }),
      })
    } else view.lift(s.target.idHex, s.lifts as string)
    return { valid: true }
  } catch (e) {
    if (e instanceof MandateError) return { valid: false, stage, code: e.code }
    throw e
  }
}

export function outcomeOf(d: Decision): StepOutcome {
  if (d.allowed) {
    if (d.usage.length === 0) return { decision: 'allow' }
    return { decision: 'allow', remaining: Object.fromEntries(d.usage.map((u) => [u.key, u.remaining])) }
  }
  return {
    decision: 'deny',
    code: d.code,
    ...(d.block === undefined ? {} : { block: d.block }),
    ...(d.caveat === undefined ? {} : { caveat: d.caveat }),
    ...(d.amendment === undefined ? {} : { amendment: d.amendment.id }),
  }
}

/** Exact equality of two outcomes (field order and counter order do not matter). */
export function sameOutcome(expected: Outcome, observed: Outcome): boolean {
  const norm = (o: Outcome) =>
    'valid' in o
      ? JSON.stringify(['statement', o.valid, o.valid ? null : o.stage, o.valid ? null : o.code, Object.keys(o).length])
      : JSON.stringify([
          o.decision,
          o.code ?? null,
          o.block ?? null,
          o.caveat ?? null,
          o.amendment ?? null,
          o.remaining === undefined ? null : Object.entries(o.remaining).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
        ])
  return norm(expected) === norm(observed)
}

/** Every present step whose outcome differs from what the scenario states; empty when it agrees. */
export async function checkScenario(s: Scenario): Promise<string[]> {
  const problems: string[] = []
  for (const { step, outcome } of await runScenario(s)) {
    const expected = (s.steps[step] as PresentStep | AmendStep | LiftStep).expected
    if (!sameOutcome(expected, outcome))
      problems.push(`${s.id}, step ${step} (at ${s.steps[step]?.at}): got ${JSON.stringify(outcome)}, expected ${JSON.stringify(expected)}`)
  }
  return problems
}
