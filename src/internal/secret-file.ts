/**
 * Secret files (keys, bearer tokens): created 0600, never overwritten by accident. Shared by
 * the CLI, which reports a failure as a usage or I/O error, and the service, which writes its
 * feed-signing key on first start.
 *
 * @module
 */
import { closeSync, constants, fchmodSync, fstatSync, openSync, writeSync } from 'node:fs'

/** Why a secret file was not written: it `exists` (and `force` was not given), or an I/O failure. */
export class SecretFileError extends Error {
  constructor(
    readonly path: string,
    readonly exists: boolean,
    message: string,
    options?: { readonly cause?: unknown },
  ) {
    super(message, options)
    this.name = 'SecretFileError'
  }
}

/**
 * Write `text` to a new file readable by its owner only (0600; an existing file is set to
 * 0600 too); refuse to overwrite unless `force`. Returns the file's permission bits as they
 * ended up (a file we do not own may keep its mode). Throws a {@link SecretFileError}.
 *
 * @example
 * ```ts
 * const mode = writeSecretFile('service.pem', exportSecretKeyPem(pair.secretKey), false)
 * if ((mode & 0o077) !== 0) console.warn('service.pem is readable by others')
 * ```
 */
export function writeSecretFile(path: string, text: string, force: boolean): number {
  let fd: number
  try {
    // Never through a symbolic link (overwriting whatever it points to), and never blocked on a
    // FIFO nobody reads (ENXIO instead). Windows has neither flag.
    const safe = (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0)
    const flags = constants.O_WRONLY | constants.O_CREAT | safe | (force ? constants.O_TRUNC : constants.O_EXCL)
    fd = openSync(path, flags, 0o600)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new SecretFileError(path, true, `${path} already exists`, { cause: e })
    throw new SecretFileError(path, false, `cannot write ${path}: ${reason(e)}`, { cause: e })
  }
  try {
    // Only a file: a FIFO someone reads, or a device, would hand the secret on.
    if (!fstatSync(fd).isFile()) throw new SecretFileError(path, false, `cannot write ${path}: it is not a regular file`)
    try {
      fchmodSync(fd, 0o600)
    } catch {
      // not ours to change: the caller warns about the mode it ends up with
    }
    writeSync(fd, text)
    return fstatSync(fd).mode & 0o777
  } catch (e) {
    if (e instanceof SecretFileError) throw e
    throw new SecretFileError(path, false, `cannot write ${path}: ${reason(e)}`, { cause: e })
  } finally {
    closeSync(fd)
  }
}

/** A file-system failure in a few words, for messages: `permission denied`, `no such file`. */
export function reason(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code
  if (code === 'ENOENT') return 'no such file'
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied'
  if (code === 'EISDIR') return 'it is a directory'
  if (code === 'ELOOP') return 'it is a symbolic link'
  if (code === 'ENXIO') return 'it is a FIFO nobody reads'
  return code ?? 'failed'
}
