/**
 * The CLI's version: package.json's, read when the CLI loads, so a release bumps one place.
 *
 * @module
 */
import { readFileSync } from 'node:fs'

// src/cli/version.ts and dist/cli/version.js both sit two levels below the package root,
// whose package.json every install ships.
const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }

/** The version `mandate --version` prints. */
export const VERSION: string = manifest.version
