/**
 * A loopback port nobody listens on: connections to it are refused.
 */
import { createServer } from 'node:net'

/** A loopback port that was free a moment ago (and is closed now). */
export async function closedPort(): Promise<number> {
  const probe = createServer()
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
  const { port } = probe.address() as { port: number }
  await new Promise<void>((resolve) => probe.close(() => resolve()))
  return port
}
