/**
 * An fsync on a thread of the store's own.
 *
 * `node:fs`'s fsync runs on libuv's thread pool, which a server shares with the signature checks
 * it hands there (and dns, zlib): under load an fsync queued behind every signature in flight
 * held up every write waiting to be durable (`npm run bench:service`, SQLite, alternating runs
 * of 8,000: 1,673–2,140 consumes/s on a thread of its own against 1,294–1,934 on the pool). The
 * thread holds the process open only while an fsync is in flight, as libuv's pool does. It costs
 * each open store one thread (about 9 MB, and some 50 ms before the first fsync, while it boots).
 *
 * @internal
 * @module
 */
import { Worker } from 'node:worker_threads'

/** How the store makes a file durable: calls `done` once `fd` is synced, or with why not. @internal */
export type Fsync = (fd: number, done: (error: Error | null) => void) => void

/**
 * An fsync that failed because the thread did, not the disk: what was written is still in the
 * system's cache, and a restart syncs it. @internal
 */
export class FsyncThreadStopped extends Error {
  override readonly name = 'FsyncThreadStopped'
}

const threadError = (message: string, cause?: unknown): Error => new FsyncThreadStopped(message, cause === undefined ? {} : { cause })

/** A thread that syncs one file descriptor at a time. @internal */
export interface FsyncThread {
  readonly sync: Fsync
  /** Ends the thread; an fsync asked for afterwards fails. */
  stop(): Promise<void>
}

// Runs in the thread, as a script or as a module (dynamic imports work in either): the thread
// takes the process's flags (`--input-type=module`, the permission model's). A descriptor belongs
// to the process in Node and Bun, so its number is enough (in Deno it would not be: EBADF, and
// the store fails closed); an error goes back as its code and message.
const SOURCE = `Promise.all([import('node:worker_threads'), import('node:fs')]).then(([{ parentPort }, { fsyncSync }]) => {
  parentPort.on('message', (fd) => {
    try {
      fsyncSync(fd)
      parentPort.postMessage(null)
    } catch (e) {
      parentPort.postMessage({ code: typeof e?.code === 'string' ? e.code : undefined, message: String(e?.message ?? e) })
    }
  })
})`

/**
 * Start the thread. One fsync at a time: the store never asks for a second before the first is
 * done (asking is a bug, and throws).
 *
 * @example
 * ```ts
 * const thread = startFsyncThread()
 * thread.sync(fd, (error) => (error ? fail(error) : resolveWaiting()))
 * await thread.stop()
 * ```
 * @internal
 */
export function startFsyncThread(): FsyncThread {
  const worker = new Worker(SOURCE, { eval: true, env: {} })
  let pending: ((error: Error | null) => void) | undefined
  let ended: Error | undefined
  const settle = (error: Error | null): void => {
    const done = pending
    pending = undefined
    worker.unref()
    done?.(error)
  }
  worker.on('message', (m: { code?: string; message: string } | null) => {
    settle(m === null ? null : Object.assign(new Error(m.message), m.code === undefined ? {} : { code: m.code }))
  })
  // A thread that dies fails what it was syncing and everything after: the store then refuses all.
  const end = (why: Error): void => {
    ended ??= why
    settle(ended)
  }
  worker.on('error', (e) => end(threadError(`the fsync thread failed: ${e.message}`, e)))
  worker.on('exit', () => end(threadError('the fsync thread has stopped')))
  // After the listeners: a 'message' listener holds the thread's port open again.
  worker.unref()
  return {
    sync(fd, done) {
      if (ended) {
        const why = ended
        setImmediate(() => done(why))
        return
      }
      if (pending) throw new Error('an fsync is already in flight on this thread')
      pending = done
      worker.ref()
      worker.postMessage(fd)
    },
    async stop() {
      ended ??= threadError('the fsync thread has stopped')
      await worker.terminate()
    },
  }
}
