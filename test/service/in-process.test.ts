import { startInProcess } from '../helpers/service.js'
import { serviceSuite } from './suite.js'

// The service's HTTP behaviour once more, started in this process from src/ (as a program
// embedding `startService` runs it), so that mutation testing of src/service sees it.
serviceSuite('in-process, SQLite', (trust) => startInProcess(trust))
