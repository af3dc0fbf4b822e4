/**
 * The guard's audit trail: one JSON record per tool call, allowed or denied — who acted (the
 * last holder), on whose behalf (the principal), what (tool, action, resource), a digest of the
 * arguments (never the arguments), the decision and its code, the invocation id and the
 * approval request id. Public keys and names only: never a secret key, a token or an argument.
 *
 * @module
 */
import type { MandateErrorCode } from '../errors.js'
import { safeJson } from '../internal/printable.js'

/**
 * One party of the chain in an audit record: the principal first, then each holder.
 *
 * @example
 * ```ts
 * const who: AuditParty = { role: 'holder', key: 'did:key:z6Mk…', name: 'assistant' }
 * ```
 */
export interface AuditParty {
  readonly role: 'principal' | 'holder'
  /** did:key */
  readonly key: string
  readonly name?: string
}

/**
 * The audit record of one tool call (a line of the JSON Lines audit file).
 *
 * @example
 * ```ts
 * const guard = createToolGuard({ mandate: grant, key: assistant, verifier, audit: (r: ToolAuditRecord) => console.error(r.tool, r.decision, r.code ?? '') })
 * ```
 */
export interface ToolAuditRecord {
  /** When it was decided (Unix seconds). */
  readonly at: number
  /** The guarded server (the verifier's audience). */
  readonly audience: string
  readonly tool: string
  /** The action the tool maps to; absent when it maps to none. */
  readonly action?: string
  readonly resource?: string
  /** Principal (on whose behalf) → holders; the last is who acted. */
  readonly chain: readonly AuditParty[]
  /** `sha-256:<hex>` of the canonical CBOR of the arguments (spec §5.6); absent when they are not arguments a mandate can carry. */
  readonly argsDigest?: string
  readonly decision: 'allow' | 'deny'
  readonly code?: MandateErrorCode
  readonly invocationId?: string
  readonly approvalRequestId?: string
  /** `'none'`: the verifier checked no revocations (it was created with `revocations: 'none'`). */
  readonly revocations?: 'none'
}

/**
 * Where audit records go: called once per tool call, before its outcome is returned. A sink
 * that throws denies the call (`ERR_INTERNAL`): no record, no call.
 *
 * @example
 * ```ts
 * const records: ToolAuditRecord[] = []
 * const sink: ToolAuditSink = (record) => void records.push(record)
 * ```
 */
export type ToolAuditSink = (record: ToolAuditRecord) => void

export { argsDigest } from '../caveats/args.js'

/**
 * One audit record as one line of JSON: terminal-safe (every control, bidi and invisible
 * character escaped), without the line break.
 *
 * @example
 * ```ts
 * const guard = createToolGuard({ mandate: grant, key: assistant, verifier, audit: (record) => process.stderr.write(`${auditLine(record)}\n`) })
 * ```
 */
export function auditLine(record: ToolAuditRecord): string {
  return safeJson(record)
}

/** The part of `node:fs` the file sink uses (reached without an import: the entry stays free of `node:` modules). */
interface NodeFs {
  openSync(path: string, flags: string, mode: number): number
  closeSync(fd: number): void
  appendFileSync(path: string, data: string, options: { mode: number }): void
}

function nodeFs(): NodeFs {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process
  const fs = typeof proc?.getBuiltinModule === 'function' ? (proc.getBuiltinModule('fs') as NodeFs | undefined) : undefined
  if (!fs) throw new TypeError('auditToFile needs a file system (Node.js 20.16 or later); pass an audit function instead')
  return fs
}

/**
 * An audit sink that appends one JSON line per call to `path`. The file is created now, readable
 * by its owner only (mode 0600), so that a path that cannot be written stops the start rather
 * than the first call; an existing file keeps its mode and is appended to. Each line is written
 * before the call's outcome is returned (not fsynced). Node.js only.
 *
 * @example
 * ```ts
 * import { auditToFile, createToolGuard } from 'mandate/mcp'
 * const guard = createToolGuard({ mandate: grant, key: assistant, verifier, audit: auditToFile('mcp-audit.jsonl') })
 * ```
 */
export function auditToFile(path: string): ToolAuditSink {
  if (typeof path !== 'string' || path === '') throw new TypeError('"path" expected a file path')
  const fs = nodeFs()
  fs.closeSync(fs.openSync(path, 'a', 0o600))
  return (record) => fs.appendFileSync(path, `${auditLine(record)}\n`, { mode: 0o600 })
}
