/** spec/http-v1.md over a real Fastify server on loopback. */
import { describe } from 'vitest'
import { scenarios } from './fixture.js'
import { startFastify } from './servers.js'

describe('Fastify', () => scenarios(startFastify, { parsesFirst: true }))
