import { startServer } from '../helpers/service.js'
import { serviceSuite } from './suite.js'

serviceSuite('SQLite', (trust) => startServer(trust))
