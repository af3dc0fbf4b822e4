#!/usr/bin/env node
// The CLI lives in src/cli (built to dist/cli by `npm ci` / `npm run build`).
import { main } from '../dist/cli/main.js'

await main()
