/**
 * Small state files that must survive a crash whole: written to a temporary file of this
 * writer's own, fsynced, then renamed over the old one, so that a crash leaves either the old
 * content or the new, never a mix. Node only.
 *
 * @module
 */
import { randomBytes } from 'node:crypto'
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs'

/** The file's text, or undefined when there is no such file (any other failure throws). */
export function readIfExists(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8')
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw e
  }
}

/** Replace `path` with `text` (mode 0600), durably. */
export function writeDurably(path: string, text: string): void {
  // Unique per writer: processes sharing a directory never write one temporary file.
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`
  const fd = openSync(tmp, 'w', 0o600)
  try {
    writeSync(fd, text)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  renameSync(tmp, path)
}
