/** spec/http-v1.md over a Fetch handler (`protect`) served by @hono/node-server on loopback. */
import { describe } from 'vitest'
import { scenarios } from './fixture.js'
import { startFetch } from './servers.js'

describe('Fetch', () => scenarios(startFetch))
