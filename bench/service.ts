/**
 * The service under load: `POST /v1/usage/consume` against a hello-world server, side by side.
 *
 *     npm run bench:service        (tsx bench/service.ts)
 *
 * The load generator (autocannon, 32 connections, in this process) sends prepared requests, each
 * a consume of a different mandate: a fresh root grant (its own counter), a fresh invocation of it
 * addressed to the verifier `mail`, and the verifier's RFC 9421 signature (a fresh nonce). Every
 * request is therefore the service's full work: the request signature, the chain and invocation
 * signatures, the nonce stored, the standing looked up, one use spent — and answered only after a
 * durable commit (SQLite: the WAL fsynced before the answer; PostgreSQL `synchronous_commit=on`). Every answer
 * must be 200 with `"granted":true`, or the run fails.
 *
 * Two floors, from bench/hello-server.mjs: hello-world, the same HTTP stack (Hono on
 * @hono/node-server) reading the body and answering a constant JSON, nothing else; and the
 * signature floor, the same plus the three Ed25519 checks every consume needs (the request's,
 * the root block's, the invocation's), done as the service does them (node:crypto on libuv's
 * thread pool): what any service on this stack that checks them could serve at best on this
 * machine. The service's ratio is against the signature floor. Candidates alternate in rounds
 * so that machine noise hits them alike. Then, when PostgreSQL is installed, the service on a throwaway
 * cluster: one instance, and two instances on the same database (16 connections each, at once).
 *
 * Besides requests per second, each figure gives the server process's CPU time per request (all
 * its threads, from /proc on Linux), and of it the main thread's: the load generator shares the
 * machine, so that throughput also measures the generator, while CPU per request measures the
 * service alone. Then this process's own CPU per request (the load generator's), and how many
 * cores server and generator kept busy together (their CPU per request times requests per
 * second): below the machine's count, what holds a figure back is not CPU but waiting — on
 * another thread, a lock or the disk. PostgreSQL's own processes are not counted in it.
 *
 * The service runs as `mandate serve` (bin/mandate.js, built first), at its default log level
 * (info: one line a request). BENCH_REQUESTS (per round, default 15,000), BENCH_ROUNDS (default 3)
 * and BENCH_CONNECTIONS (default 32) change the sizes; BENCH_NODE_ARGS adds Node flags to the
 * servers (`--cpu-prof --cpu-prof-dir=/tmp/prof` profiles them), BENCH_STDERR=1 shows their stderr
 * and BENCH_POSTGRES=0 leaves PostgreSQL out.
 */
import '../src/crypto/use-node.js'
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import { signRequest } from '../src/crypto/http-signature.js'
import { formatInvocation, generateKeyPair, invoke, mint, toDidKey } from '../src/index.js'
import { postgresBin, startCluster } from '../test/helpers/pg-cluster.js'

const perRound = Number(process.env['BENCH_REQUESTS'] ?? 15_000)
const rounds = Number(process.env['BENCH_ROUNDS'] ?? 3)
const connections = Number(process.env['BENCH_CONNECTIONS'] ?? 32)

const root = fileURLToPath(new URL('..', import.meta.url))
const alice = generateKeyPair()
const agent = generateKeyPair()
const mail = generateKeyPair()

interface Prepared {
  readonly headers: Record<string, string>
  readonly body: string
}

/** `n` consumes of `n` different mandates, signed for the service at `url`. */
function prepare(url: string, n: number): Prepared[] {
  const target = `${url}/v1/usage/consume`
  const out: Prepared[] = []
  for (let i = 0; i < n; i++) {
    const grant = mint({
      principal: alice,
      to: toDidKey(agent.publicKey),
      caveats: [
        { type: 'actions', patterns: ['email:send'] },
        { type: 'window', expires: Math.floor(Date.now() / 1000) + 3600 },
        { type: 'uses', max: 10 },
      ],
    })
    const invocation = invoke(grant, { key: agent, action: 'email:send', audience: 'mail' })
    const counter = `${grant.blocks[0]?.idHex}/2`
    const body = JSON.stringify({ presentation: formatInvocation(invocation), counters: [counter] })
    const headers = signRequest({ method: 'POST', url: target, body: new TextEncoder().encode(body) }, mail)
    out.push({ headers: { 'content-type': 'application/json', ...headers }, body })
  }
  return out
}

interface Started {
  readonly url: string
  readonly proc: ChildProcess
  stop(): Promise<void>
}

/** Spawn `args` and wait for the line naming its URL (`listening http://…`, or the service's JSON log line). */
async function start(args: string[]): Promise<Started> {
  const proc = spawn(process.execPath, [...(process.env['BENCH_NODE_ARGS']?.split(' ') ?? []), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env['PATH'] ?? '' },
  })
  let err = ''
  proc.stderr?.on('data', (d) => {
    if (process.env['BENCH_STDERR']) process.stderr.write(d)
    err = (err + String(d)).slice(-16_384)
  })
  const url = await new Promise<string>((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => reject(new Error(`did not start: ${err}${out}`)), 20_000)
    const listening = (d: Buffer) => {
      out += String(d)
      const m = /listening (http:\S+)/.exec(out) ?? /"url":"(http:[^"]+)".*"msg":"listening"/.exec(out)
      if (m) {
        clearTimeout(timer)
        // Not kept listening: the service logs a line a request, and appending each to `out`
        // and searching it again made the load generator's CPU grow with every request.
        proc.stdout?.off('data', listening)
        resolve(m[1] as string)
      }
    }
    proc.stdout?.on('data', listening)
    proc.once('exit', (code) => reject(new Error(`exited ${code}: ${err}${out}`)))
  })
  // The service logs a line a request: drained, as a log shipper would.
  proc.stdout?.resume()
  return {
    url,
    proc,
    stop: () =>
      new Promise<void>((resolve) => {
        proc.once('exit', () => resolve())
        proc.kill('SIGTERM')
      }),
  }
}

function startService(dir: string, db: string, name: string): Promise<Started> {
  return start([
    join(root, 'bin/mandate.js'),
    'serve',
    '--port',
    '0',
    '--db',
    db,
    '--key',
    join(dir, `${name}.pem`),
    '--root',
    `alice=${toDidKey(alice.publicKey)}`,
    '--verifier',
    `mail=${toDidKey(mail.publicKey)}`,
  ])
}

interface Load {
  readonly rps: number
  readonly p50: number
  readonly p99: number
  /** CPU time of the server's process (all its threads) per request, in ms; undefined off Linux. */
  readonly cpu: number | undefined
  /** Of which its main thread's (the event loop: one core at most). */
  readonly loop: number | undefined
  /** CPU time of this process (the load generator) per request, in ms. */
  readonly generator: number
}

const ticksPerSecond = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' })) || 100
  } catch {
    return 100
  }
})()

/** User + system CPU time of process `pid` so far, in ms (Linux's /proc), else undefined. */
function cpuOf(pid: number | undefined, thread?: number): number | undefined {
  try {
    const fields =
      readFileSync(thread === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${thread}/stat`, 'utf8')
        .split(') ')[1]
        ?.split(' ') ?? []
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / ticksPerSecond
  } catch {
    return undefined
  }
}

/** Send `requests` over `conns` connections; every answer must be a 200 granting the use. */
async function load(server: Started, requests: readonly Prepared[], conns: number, check: boolean): Promise<Load> {
  const { url } = server
  const cpuBefore = cpuOf(server.proc.pid)
  const loopBefore = cpuOf(server.proc.pid, server.proc.pid)
  const generatorBefore = process.cpuUsage()
  let next = 0
  let refused = 0
  // Timed to the last answer: autocannon itself notices that the amount is sent only on its
  // one-second tick, which would round every figure to a whole number of seconds.
  let answered = 0
  const began = performance.now()
  const result = await autocannon({
    url,
    connections: conns,
    amount: requests.length,
    requests: [
      {
        method: 'POST',
        path: '/v1/usage/consume',
        setupRequest: (req) => {
          const r = requests[next++ % requests.length] as Prepared
          return { ...req, headers: r.headers, body: r.body }
        },
        onResponse: (status, body) => {
          answered = performance.now()
          if (status !== 200 || (check && !body.includes('"granted":true'))) {
            if (refused++ === 0) console.error(`unexpected answer ${status}: ${body.slice(0, 300)}`)
          }
        },
      },
    ],
  })
  if (refused > 0 || result.errors > 0 || result.timeouts > 0) {
    throw new Error(`${url}: ${refused} unexpected answers, ${result.errors} errors, ${result.timeouts} timeouts`)
  }
  const seconds = (answered - began) / 1000
  const generator = process.cpuUsage(generatorBefore)
  const cpuAfter = cpuOf(server.proc.pid)
  const loopAfter = cpuOf(server.proc.pid, server.proc.pid)
  const per = (before: number | undefined, after: number | undefined) =>
    before === undefined || after === undefined ? undefined : (after - before) / result.requests.total
  return {
    rps: result.requests.total / seconds,
    p50: result.latency.p50,
    p99: result.latency.p99,
    cpu: per(cpuBefore, cpuAfter),
    loop: per(loopBefore, loopAfter),
    generator: (generator.user + generator.system) / 1000 / result.requests.total,
  }
}

/** Two loads at once (one a service instance), summed: requests per second added, the worse p99. */
async function loadBoth(a: [Started, Prepared[]], b: [Started, Prepared[]], conns: number): Promise<Load> {
  // Both loads run in this process: its CPU is measured once, over both.
  const generatorBefore = process.cpuUsage()
  const [x, y] = await Promise.all([load(a[0], a[1], conns, true), load(b[0], b[1], conns, true)])
  const generator = process.cpuUsage(generatorBefore)
  const mean = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined ? undefined : (a + b) / 2)
  return {
    rps: x.rps + y.rps,
    p50: Math.max(x.p50, y.p50),
    p99: Math.max(x.p99, y.p99),
    cpu: mean(x.cpu, y.cpu),
    loop: mean(x.loop, y.loop),
    generator: (generator.user + generator.system) / 1000 / (a[1].length + b[1].length),
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number

interface Row {
  readonly figure: string
  readonly rps: number
  readonly p99: number
  readonly cpu: number | undefined
  readonly loop: number | undefined
  readonly generator: number
  /** Requests per second against the signature floor's. */
  readonly vsFloor?: number
}

/** A figure's medians over its rounds; against the signature floor's requests per second when given. */
function row(figure: string, loads: readonly Load[], floorRps?: number): Row {
  const med = (xs: (number | undefined)[]) => (xs.every((x) => x !== undefined) ? median(xs as number[]) : undefined)
  const rps = median(loads.map((x) => x.rps))
  return {
    figure,
    rps,
    p99: median(loads.map((x) => x.p99)),
    cpu: med(loads.map((x) => x.cpu)),
    loop: med(loads.map((x) => x.loop)),
    generator: median(loads.map((x) => x.generator)),
    ...(floorRps === undefined ? {} : { vsFloor: rps / floorRps }),
  }
}

function print(rows: readonly Row[]): void {
  console.log(`\nPOST /v1/usage/consume, ${connections} connections, distinct mandates, medians of ${rounds} rounds of ${perRound}:\n`)
  const cores = availableParallelism()
  console.log(
    `| figure | requests/s | p99 | server CPU / request | of which its event loop | load generator CPU / request | cores busy (of ${cores}) | vs signature floor |`,
  )
  console.log('|---|---|---|---|---|---|---|---|')
  for (const r of rows) {
    const ratio = r.vsFloor === undefined ? '' : `${r.vsFloor.toFixed(2)}×`
    const ms = (x: number | undefined) => (x === undefined ? 'n/a' : `${x.toFixed(2)} ms`)
    // Server and load generator together, per second of the run: how much of the machine they took.
    const busy = r.cpu === undefined ? 'n/a' : (((r.cpu + r.generator) * r.rps) / 1000).toFixed(2)
    console.log(
      `| ${r.figure} | ${Math.round(r.rps).toLocaleString('en-US')} | ${r.p99} ms | ${ms(r.cpu)} | ${ms(r.loop)} | ${ms(r.generator)} | ${busy} | ${ratio} |`,
    )
  }
}

async function main(): Promise<void> {
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'inherit' })
  const dir = mkdtempSync(join(tmpdir(), 'mandate-bench-service-'))
  const running: Started[] = []
  const rows: Row[] = []
  try {
    const hello = await start([join(root, 'bench/hello-server.mjs')])
    running.push(hello)
    const floor = await start([join(root, 'bench/hello-server.mjs'), '--signatures', '3'])
    running.push(floor)
    const sqlite = await startService(dir, join(dir, 'mandate.db'), 'sqlite')
    running.push(sqlite)
    const warm = Math.min(3000, perRound)
    console.log(`${rounds} rounds of ${perRound.toLocaleString('en-US')} signed consumes, each prepared before its round…`)
    const warmup = prepare(sqlite.url, warm)
    await load(hello, warmup, connections, false)
    await load(floor, warmup, connections, false)
    await load(sqlite, warmup, connections, true)
    const h: Load[] = []
    const f: Load[] = []
    const s: Load[] = []
    for (let i = 0; i < rounds; i++) {
      // One round's requests at a time: the load generator shares the machine, and holding
      // every round's (~2 KB each) made its garbage collector take CPU from the service.
      const batch = prepare(sqlite.url, perRound)
      h.push(await load(hello, batch, connections, false))
      f.push(await load(floor, batch, connections, false))
      s.push(await load(sqlite, batch, connections, true))
    }
    const floorRps = median(f.map((x) => x.rps))
    rows.push(row('hello-world (Hono, same stack)', h))
    rows.push(row('signature floor: the same + 3 Ed25519 checks on the pool', f))
    rows.push(row('service, SQLite', s, floorRps))
    await sqlite.stop()
    running.splice(running.indexOf(sqlite), 1)

    if (process.env['BENCH_POSTGRES'] === '0') {
      console.log('BENCH_POSTGRES=0: no PostgreSQL figures')
    } else if (postgresBin() === undefined) {
      console.log('PostgreSQL is not installed: no PostgreSQL figures')
    } else {
      const cluster = await startCluster()
      try {
        const one = await startService(dir, cluster.url, 'pg-one')
        running.push(one)
        const oneRequests = prepare(one.url, perRound + warm)
        await load(one, oneRequests.slice(0, warm), connections, true)
        const single = await load(one, oneRequests.slice(warm), connections, true)
        rows.push(row('service, PostgreSQL, one instance', [single], floorRps))
        const two = await startService(dir, cluster.url, 'pg-two')
        running.push(two)
        const half = Math.floor(perRound / 2)
        const a = prepare(one.url, half)
        const b = prepare(two.url, half + warm)
        await load(two, b.slice(0, warm), connections / 2, true)
        const both = await loadBoth([one, a], [two, b.slice(warm)], connections / 2)
        rows.push(row('service, PostgreSQL, two instances on one database', [both], floorRps))
      } finally {
        await Promise.all(running.splice(1).map((r) => r.stop()))
        cluster.stop()
      }
    }
    print(rows)
  } finally {
    await Promise.all(running.map((r) => r.stop()))
    rmSync(dir, { recursive: true, force: true })
  }
}

await main()
