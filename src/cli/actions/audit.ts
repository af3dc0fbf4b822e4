/**
 * `mandate audit export` and `mandate audit verify` (spec/service-v1.md §8; the flags are in
 * ../commands/audit.ts).
 *
 * @module
 */
import type { Command } from 'commander'
import { parsePublicKey, toDidKey } from '../../crypto/keys.js'
import { type AuditCheckpoint, type AuditEntry, verifyAuditExport } from '../../service/audit.js'
import { type Context, emit, jsonMode } from '../context.js'
import { CliError, usage } from '../errors.js'
import { loadKey, readText, writeSecretFile } from '../io.js'
import { printable as p, safeJson } from '../printable.js'
import { call } from '../service-client.js'
import { needService } from './approvals.js'

export interface ExportFlags {
  readonly service?: string
  readonly key?: string
  readonly since?: string
  readonly principal?: string
  readonly out?: string
  readonly force?: boolean
}

export interface VerifyFlags {
  readonly serviceKey?: string
}

/** The largest page the service answers. */
const PAGE = 1000

/** Page through `GET /v1/audit` and write every record, then the last page's checkpoint. */
export async function exportAudit(ctx: Context, opts: ExportFlags, cmd: Command): Promise<void> {
  const service = needService(ctx, cmd, opts.service)
  // --json promises one JSON document on stdout: the export itself (JSON Lines) goes to a file then.
  if (jsonMode(cmd) && opts.out === undefined) {
    usage(
      'with --json, write the export to a file (-o FILE)',
      'stdout then carries one JSON document: the file, the record count and the checkpoint',
    )
  }
  const key = loadKey(ctx.io, opts.key)
  if (opts.since !== undefined && !/^\d{1,15}$/.test(opts.since))
    usage(`--since: expected a record number, got ${JSON.stringify(opts.since)}`, 'e.g. --since 1200 (the last record you already have)')
  let principal: string | undefined
  if (opts.principal !== undefined) {
    try {
      principal = toDidKey(parsePublicKey(opts.principal))
    } catch {
      usage(`--principal: ${JSON.stringify(opts.principal)} is not a key`, 'pass the principal’s did:key')
    }
  }
  const malformed = () => new CliError('ERR_IO', 'the service answered with a malformed audit page', 'is --service the mandate service?')
  // Each line escaped as JSON does (\uhhhh), never as the terminal boundary would (\xhh is no JSON):
  // a record carrying a C1 control or DEL must reach a file or a pipe as a line that still
  // parses, to the same value, so that the export verifies wherever it went.
  const lines: string[] = []
  let since = Number(opts.since ?? 0)
  let checkpoint: AuditCheckpoint | undefined
  let count = 0
  for (;;) {
    const query = new URLSearchParams({ since: String(since), limit: String(PAGE), ...(principal ? { principal } : {}) })
    const { body } = await call<Record<string, unknown>>(service, `/v1/audit?${query}`, { key })
    const records = body['records']
    const next = body['next']
    // An export that starts later begins with the signed checkpoint of the record before it.
    if (lines.length === 0 && since > 0 && typeof body['anchor'] === 'object' && body['anchor'] !== null)
      lines.push(safeJson(body['anchor']))
    if (!Array.isArray(records) || typeof body['checkpoint'] !== 'object' || body['checkpoint'] === null) throw malformed()
    for (const r of records as AuditEntry[]) lines.push(safeJson(r))
    count += records.length
    checkpoint = body['checkpoint'] as AuditCheckpoint
    if (next === undefined) break
    if (!Number.isSafeInteger(next) || (next as number) <= since) throw malformed()
    since = next as number
  }
  lines.push(safeJson(checkpoint))
  const text = `${lines.join('\n')}\n`
  if (opts.out !== undefined) {
    // The log holds who asked for what and why: readable by its owner only.
    writeSecretFile(opts.out, text, opts.force === true)
    const written = { file: opts.out, records: count, checkpoint: { count: checkpoint?.count, head: checkpoint?.head } }
    if (jsonMode(cmd)) emit(ctx, cmd, written, () => '')
    else ctx.io.err(`mandate: wrote ${count} records and a signed checkpoint to ${opts.out}\n`)
  } else ctx.io.out(text)
}

/** Check an export offline against the service key; exit 1 naming the first problem. */
export async function verifyAudit(ctx: Context, file: string, opts: VerifyFlags, cmd: Command): Promise<void> {
  const serviceKey = opts.serviceKey ?? ctx.io.env['MANDATE_SERVICE_KEY']
  if (serviceKey === undefined || serviceKey === '') {
    usage(
      'the service key is needed (--service-key or MANDATE_SERVICE_KEY)',
      'the did:key mandate serve prints, which signs its checkpoints',
    )
  }
  try {
    parsePublicKey(serviceKey)
  } catch {
    usage(`--service-key: ${JSON.stringify(serviceKey)} is not a key`, "pass the service's did:key")
  }
  const text = file === '-' ? await ctx.io.readStdin() : readText(file, 'audit export')
  const result = verifyAuditExport(text, serviceKey)
  emit(ctx, cmd, result, () => {
    if (!result.ok) return `FAILED   ${p(result.problem?.kind ?? 'problem')}: ${p(result.problem?.message ?? '')}\n`
    const range = result.records === 0 ? 'no records' : `records ${result.first}–${result.last}`
    const redacted = result.redacted > 0 ? ` (${result.redacted} redacted)` : ''
    return `OK       ${range}${redacted}, intact, covered by a checkpoint of ${result.checkpoint?.count} records signed ${new Date((result.checkpoint?.at ?? 0) * 1000).toISOString()}\n`
  })
  ctx.exit = result.ok ? 0 : 1
}
