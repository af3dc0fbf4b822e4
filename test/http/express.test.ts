/** spec/http-v1.md over a real Express server on loopback. */
import { describe } from 'vitest'
import { scenarios } from './fixture.js'
import { startExpress } from './servers.js'

describe('Express', () => scenarios(startExpress))
