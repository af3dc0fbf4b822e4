/** spec/http-v1.md over a real Hono server on loopback. */
import { describe } from 'vitest'
import { scenarios } from './fixture.js'
import { startHono } from './servers.js'

describe('Hono', () => scenarios(startHono))
