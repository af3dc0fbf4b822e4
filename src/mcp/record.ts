/**
 * How a tool call's outcome gets its audit record, shared by the agent-side guard (guard.ts)
 * and the server-side check (server.ts): the record is written before the outcome is returned,
 * and a sink that fails turns any outcome into a denial (no record, no call).
 *
 * @module
 */
import type { ChainLink } from '../verify/decision.js'
import type { AuditParty, ToolAuditRecord, ToolAuditSink } from './audit.js'
import type { ToolCallAllowed, ToolCallDenied, ToolCallOutcome } from './guard.js'

/** What a denial reports, before the audit record is added. */
export type DenialFields = Omit<ToolCallDenied, 'allowed' | 'tool' | 'audit'>

/** What an allowed call reports, before the audit record is added. */
export type AllowedFields = Omit<ToolCallAllowed, 'allowed' | 'audit'>

/** Records show a tool name whole up to this many characters: a name is the caller's text, of any length. */
const SHOWN_NAME = 256

function shown(tool: string): string {
  return tool.length > SHOWN_NAME ? `${tool.slice(0, SHOWN_NAME)}…` : tool
}

/** The parties of a decided chain, as a record names them. */
export function partiesFrom(chain: readonly ChainLink[]): AuditParty[] {
  return chain.map((l) => ({ role: l.role, key: l.key, ...(l.name === undefined ? {} : { name: l.name }) }))
}

/** Turns outcomes into recorded outcomes. */
export interface Recorder {
  /** A denial; `chain` names the parties when the verifier did not decide (it read no chain). */
  deny(tool: string, at: number, digest: string | undefined, d: DenialFields, chain: readonly AuditParty[]): ToolCallDenied
  /** An allowed call: allowed if its record is written, else denied `ERR_INTERNAL`. */
  allow(fields: AllowedFields, at: number, digest: string): ToolCallOutcome
}

/** Why a call is denied when its record cannot be written. */
function sinkFailed(e: unknown) {
  return {
    code: 'ERR_INTERNAL' as const,
    message: `the audit record could not be written (${e instanceof Error ? e.message.slice(0, 200) : 'failed'})`,
    hint: 'calls are denied while the audit trail cannot be written; check the audit file',
  }
}

/** A recorder for the calls of one server (`audience`), writing to `sink` (none: records are only returned). */
export function createRecorder(audience: string, sink: ToolAuditSink | undefined): Recorder {
  const write = (fields: Omit<ToolAuditRecord, 'audience'>): ToolAuditRecord => {
    const { at, ...rest } = fields
    const r: ToolAuditRecord = { at, audience, ...rest }
    sink?.(r)
    return r
  }
  return {
    deny(tool, at, digest, d, chain) {
      const base = {
        at,
        tool: shown(tool),
        ...(d.action === undefined ? {} : { action: d.action }),
        ...(d.decision?.audit.resource === undefined ? {} : { resource: d.decision.audit.resource }),
        chain: d.decision?.chain ? partiesFrom(d.decision.chain) : chain,
        ...(digest === undefined ? {} : { argsDigest: digest }),
        decision: 'deny' as const,
        code: d.code,
        ...(d.invocationId === undefined ? {} : { invocationId: d.invocationId }),
        ...(d.approval?.requestId === undefined ? {} : { approvalRequestId: d.approval.requestId }),
        ...(d.decision?.audit.revocations === undefined ? {} : { revocations: d.decision.audit.revocations }),
      }
      try {
        return { allowed: false, tool, ...d, audit: write(base) }
      } catch (e) {
        const failed = sinkFailed(e)
        return {
          allowed: false,
          tool,
          ...(d.action === undefined ? {} : { action: d.action }),
          ...failed,
          ...(d.invocationId === undefined ? {} : { invocationId: d.invocationId }),
          audit: { ...base, audience, code: failed.code },
        }
      }
    },
    allow(fields, at, digest) {
      const record = {
        at,
        tool: shown(fields.tool),
        action: fields.action,
        ...(fields.resource === undefined ? {} : { resource: fields.resource }),
        chain: partiesFrom(fields.decision.chain),
        argsDigest: digest,
        decision: 'allow' as const,
        invocationId: fields.invocationId,
        ...(fields.approvalRequestId === undefined ? {} : { approvalRequestId: fields.approvalRequestId }),
        ...(fields.decision.audit.revocations === undefined ? {} : { revocations: fields.decision.audit.revocations }),
      }
      try {
        return { allowed: true, ...fields, audit: write(record) }
      } catch (e) {
        // The invocation's replay claim and uses are spent: the call is still not run without its record.
        const failed = sinkFailed(e)
        return {
          allowed: false,
          tool: fields.tool,
          action: fields.action,
          ...failed,
          invocationId: fields.invocationId,
          audit: { ...record, audience, decision: 'deny', code: failed.code },
        }
      }
    },
  }
}
