import { readFileSync } from 'node:fs'
import { type Ed25519Case, ed25519Cases } from './ed25519-cases.js'

export type { Ed25519Case }

const dir = new URL('../../test-vectors/ed25519/', import.meta.url)

/** Every vector of the four external files, with its expected strict-profile outcome. */
export function loadEd25519Cases(): Ed25519Case[] {
  return ed25519Cases((name) => JSON.parse(readFileSync(new URL(name, dir), 'utf8')))
}
