/**
 * The SQLite store's fsync thread (src/service/fsync-thread.ts): a write is made durable on a
 * thread of the store's own, so that it does not wait behind what libuv's pool is busy with (a
 * server's signature checks); the thread keeps the process alive only while an fsync is in
 * flight; an error, or a thread that has stopped, fails the fsync (and so the store, closed).
 */
import { execFileSync } from 'node:child_process'
import { closeSync, open, openSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { FsyncThreadStopped, startFsyncThread } from '../../src/service/fsync-thread.js'
import { openSqliteStore } from '../../src/service/sqlite-store.js'
import { scratch } from '../helpers/cli.js'
import { storeConsume as ask, storeCounter as counter } from '../helpers/service-app.js'

const syncOn = (thread: ReturnType<typeof startFsyncThread>, fd: number) => new Promise<Error | null>((resolve) => thread.sync(fd, resolve))

describe('the fsync thread', () => {
  it('syncs a descriptor of the process; an error comes back with its code; after stop() every fsync fails', async () => {
    const thread = startFsyncThread()
    const fd = openSync(join(scratch(), 'f'), 'w')
    try {
      expect(await syncOn(thread, fd)).toBeNull()
      expect(await syncOn(thread, fd)).toBeNull()
    } finally {
      closeSync(fd)
    }
    const closed = await syncOn(thread, fd)
    expect(closed).toBeInstanceOf(Error)
    expect(closed).toMatchObject({ code: 'EBADF', message: expect.stringMatching(/^EBADF: bad file descriptor, fsync/) })
    await thread.stop()
    const stopped = await syncOn(thread, 0)
    expect(stopped).toBeInstanceOf(FsyncThreadStopped)
    expect(stopped).toMatchObject({ message: 'the fsync thread has stopped' })
  })

  it('one fsync at a time: a second asked for while one is in flight is a bug, and throws', async () => {
    const thread = startFsyncThread()
    const fd = openSync(join(scratch(), 'f'), 'w')
    try {
      const first = syncOn(thread, fd)
      expect(() => thread.sync(fd, () => {})).toThrow('an fsync is already in flight on this thread')
      expect(await first).toBeNull()
    } finally {
      closeSync(fd)
      await thread.stop()
    }
  })

  it("a store's write is durable while every thread of libuv's pool is busy", async () => {
    const dir = scratch()
    const store = openSqliteStore(join(dir, 'm.db'))
    // Every pool thread blocked in open(2) on a FIFO until the test opens its other end.
    const fifo = join(dir, 'fifo')
    execFileSync('mkfifo', [fifo])
    const size = Number(process.env['UV_THREADPOOL_SIZE']) || 4
    const blocked = Array.from(
      { length: size },
      () =>
        new Promise<void>((resolve) =>
          open(fifo, 'r', (e, fd) => {
            if (!e) closeSync(fd)
            resolve()
          }),
        ),
    )
    try {
      const c = counter(10)
      const answer = await Promise.race([
        store.consume(ask('a', [c]), 1),
        new Promise((r) => setTimeout(() => r('still waiting after 10 s'), 10_000)),
      ])
      expect(answer).toEqual({ granted: true, remaining: [{ key: c.key, remaining: 9 }] })
    } finally {
      closeSync(openSync(fifo, 'w'))
      await Promise.all(blocked)
      await store.close()
    }
  })

  it('holds the process open while an fsync is in flight, and not otherwise: scripts that never close their store end', () => {
    const tsx = fileURLToPath(new URL('../../node_modules/tsx/dist/loader.mjs', import.meta.url))
    const storeModule = new URL('../../src/service/sqlite-store.ts', import.meta.url).href
    // Each opens a store and never closes it: one writes, one only reads, one does nothing.
    const uses = {
      writes: `const first = await store.useNonce('did:key:z6Mk', 'n-1', 4_000_000_000, 1)
        const again = await store.useNonce('did:key:z6Mk', 'n-1', 4_000_000_000, 1)
        console.log(JSON.stringify({ first, again }))`,
      reads: `console.log(JSON.stringify({ head: await store.head() }))`,
      idles: `console.log(JSON.stringify({ opened: true }))`,
    }
    const answers: Record<string, unknown> = {}
    for (const [name, use] of Object.entries(uses)) {
      const script = `
        import { openSqliteStore } from ${JSON.stringify(storeModule)}
        const store = openSqliteStore(${JSON.stringify(join(scratch(), 'm.db'))})
        ${use}`
      // As a module from --eval: the thread takes the process's flags, --input-type=module included.
      const stdout = execFileSync(process.execPath, ['--import', tsx, '--input-type=module', '-e', script], {
        encoding: 'utf8',
        timeout: 15_000,
      })
      answers[name] = JSON.parse(stdout.trim())
    }
    expect(answers).toEqual({ writes: { first: true, again: false }, reads: { head: 0 }, idles: { opened: true } })
  })
})
