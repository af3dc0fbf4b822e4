#!/usr/bin/env node
// The library ships the CLI's code (`mandate/cli`); this package only adds the CLI's own
// dependencies, which the library declares as optional peers so that verifiers stay light.
import { main } from 'mandate/cli'

await main()
