// Makes dist/cli-bundle/mandate.cjs.cache (scripts/build-cli.mjs runs this in a fresh process).
// `mandate verify`, which a script runs once per request, is run here in this process on an
// invocation and a mandate that child processes made for it, so that the cache holds the
// bytecode of its path and of no other: V8 reads the whole cache at every start (a cache that
// also held `mandate invoke` made `verify` start ~2 ms slower, and `invoke` no faster). The
// bundle is loaded exactly as bin/mandate.js loads it, and the cache written as it reads it
// (`cacheFile`: the SHA-256 of the bundle and of the cache first). A command that fails fails the
// build.
'use strict'
const { execFileSync } = require('node:child_process')
const { mkdtempSync, rmSync, writeFileSync } = require('node:fs')
const { tmpdir } = require('node:os')
const { join } = require('node:path')
const { load, cacheFile, CACHE } = require('../bin/mandate.js')

const BIN = join(__dirname, '../bin/mandate.js')

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'mandate-code-cache-'))
  try {
    const file = (name) => join(dir, name)
    const child = (...argv) => execFileSync(process.execPath, [BIN, ...argv], { encoding: 'utf8' }).trim()
    const alice = child('keygen', '-o', file('alice.pem'))
    const agent = child('keygen', '-o', file('agent.pem'))
    const grant = ['--to', agent, '--action', 'mail:*', '--resource', 'mail/**', '--audience', 'mail', '--expires', '1h']
    child('mint', '--key', file('alice.pem'), ...grant, '-o', file('grant.txt'))
    child('attenuate', file('grant.txt'), '--key', file('agent.pem'), '--action', 'mail:read', '--expires', '30m', '-o', file('sub.txt'))
    const request = ['--action', 'mail:read', '--resource', 'mail/inbox', '--audience', 'mail']
    writeFileSync(file('read.txt'), child('invoke', file('grant.txt'), '--key', file('agent.pem'), ...request))

    const cli = load()
    /**
     * Run one command line in this process. The command writes to descriptors 1 and 2 itself,
     * not through process.stdout: build-cli.mjs discards this process's standard output, and a
     * failure says why on standard error.
     */
    const mandate = async (...argv) => {
      process.argv = [process.execPath, 'mandate', ...argv]
      process.exitCode = undefined
      await cli.exports.main()
      if (process.exitCode !== 0) throw new Error(`mandate ${argv.join(' ')}: exit ${process.exitCode}`)
    }
    process.env.MANDATE_REVOCATIONS = 'none'
    await mandate('verify', file('read.txt'), '--root', alice, '--audience', 'mail')
    await mandate('verify', file('sub.txt'), '--root', alice, ...request)
    await mandate('--json', 'verify', file('sub.txt'), '--root', alice, ...request)
    writeFileSync(CACHE, cacheFile(cli.script, cli.bytes))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

main().catch((e) => {
  process.stderr.write(`cli-code-cache: ${e instanceof Error ? e.message : String(e)}\n`)
  process.exitCode = 1
})
