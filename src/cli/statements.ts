/**
 * What `mandate revoke` and `mandate amend` share: which block a statement is about, and
 * submitting the signed statement to the service.
 *
 * @module
 */
import type { UnverifiedMandate } from '../token/mandate.js'
import { CliError, usage } from './errors.js'
import { call } from './service-client.js'
import type { Service } from './service-flags.js'

/** `--block N`: a block of `m` (0 is the root grant); absent: undefined, the last block. */
export function blockFlag(m: UnverifiedMandate, value: string | undefined): number | undefined {
  if (value === undefined) return undefined
  if (!/^\d{1,2}$/.test(value) || Number(value) >= m.blocks.length)
    usage(
      `--block: expected 0..${m.blocks.length - 1}, got ${JSON.stringify(value)}`,
      'block 0 is the root grant; mandate inspect shows the blocks',
    )
  return Number(value)
}

/** POST a statement (`mnr1_…`) to the service: its feed sequence number, and whether it is new. */
export async function submitStatement(service: Service, text: string, what: string): Promise<{ seq: number; created: boolean }> {
  const { body } = await call<{ seq?: unknown; created?: unknown }>(service, '/v1/revocations', {
    method: 'POST',
    body: { revocation: text },
  })
  if (!Number.isSafeInteger(body.seq) || typeof body.created !== 'boolean') {
    throw new CliError('ERR_IO', `the service answered the ${what} without its sequence number`, 'is --service the mandate service?')
  }
  return { seq: body.seq as number, created: body.created }
}
