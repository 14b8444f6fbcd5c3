/**
 * npm run bench:tracker [-- --seconds 15 --hosts 2000 --connections 32 --stores level,postgres --replicas 1,2,3 --status-hosts 100000]
 *
 * Load from separate processes (wrk, Debian) against real `shoal tracker` processes:
 * 1. mixed: 60% announces, 30% host reports (each acknowledged once durable), 10% rollout
 *    status reads. Target: >= 5,000 requests/s with p99 < 50 ms on 2 cores; postgres per
 *    replica >= 0.7x level.
 * 2. announce-only, against Shoal and against opentracker (Debian) in the same run; ratio.
 * 3. status at scale: --status-hosts hosts registered, each with a report, the status cache off
 *    (every read computes), one connection reading the status back to back while 16 post
 *    reports: status p99 (a read's own cost plus the reports it waits behind).
 * Each store named in --stores gets its own tracker (postgres: a private instance under a temp
 * dir, as the tests run it); postgres runs once per --replicas count, the replicas sharing one
 * database and one private Redis (swarms), one wrk per replica at the same time (connections
 * split between them), so the figures compare in one run. This box has 2 cores: replicas share
 * them with PostgreSQL, Redis and wrk, so the figures give cost per request, not scaling.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { deriveHostToken } from '../src/core/tokens.js'
import { startPostgres, whyNoPostgres, type PrivatePostgres } from '../test/helpers/postgres.js'
import { freePort } from '../test/helpers/free-port.js'
import { startRedis, whyNoRedis, type PrivateRedis } from '../test/helpers/redis.js'
import { benchOption } from './bench-args.js'

const opt = benchOption
const seconds = Number(opt('seconds', '15'))
const nHosts = Number(opt('hosts', '2000'))
const connections = Number(opt('connections', '32'))
const stores = opt('stores', 'level,postgres').split(',')
const replicaCounts = opt('replicas', '1,2,3').split(',').map(Number)
const statusHosts = Number(opt('status-hosts', '100000'))
const log = (s: string): void => void process.stderr.write(`[bench:tracker] ${s}\n`)
const work = mkdtempSync(join(tmpdir(), 'shoal-tracker-bench-'))
const children: ChildProcess[] = []

const PUB = randomBytes(16).toString('hex')
const SEED = randomBytes(16).toString('hex')
const HOST_KEY = randomBytes(24).toString('hex')
const VIEW = randomBytes(16).toString('hex')
/** Every host speaks with its own token (issue 12: a host token acts only for its host). */
const hostTokens = Array.from({ length: nHosts }, (_, i) => deriveHostToken(HOST_KEY, `host-${i}`))

async function startShoal(store: string, extra: string[] = [], env: Record<string, string> = {}): Promise<string> {
  writeFileSync(join(work, 'tokens'), `publisher ${PUB} bench\nseeder ${SEED} bench\nhost-key ${HOST_KEY} bench\nviewer ${VIEW} bench\n`)
  // Started exactly as an operator would, through bin/shoal.js and its V8 flags.
  const profile = process.env.SHOAL_BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.SHOAL_BENCH_CPU_PROF}`] : []
  const child = spawn(process.execPath, [...profile, join(import.meta.dirname, '../bin/shoal.js'), 'tracker', '--tokens', join(work, 'tokens'), '--port', '0', '-q', '--max-conns-per-ip', '0', ...extra], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, SHOAL_STORE: store, ...env },
  })
  children.push(child)
  const line = await new Promise<string>((resolve) => createInterface({ input: child.stdout! }).once('line', resolve))
  return JSON.parse(line).listening
}

async function api(base: string, method: string, path: string, token: string, body?: unknown): Promise<void> {
  const r = await fetch(`${base}${path}`, { method, headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined })
  if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${await r.text()}`)
}

const esc = (buf: Buffer): string => [...buf].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('')

/** The wrk script; with `part` of `parts`, reports come only from hosts h with h % parts == part (each replica its own hosts, as a fleet's hosts stay with the replica they reached). */
function luaScript(kind: 'mixed' | 'announce', announcePath: string, infoHashes: string[], digest: string, part = 0, parts = 1): string {
  return `
local hashes = { ${infoHashes.map((h) => `"${h}"`).join(', ')} }
local tokens = { ${hostTokens.map((t) => `"${t}"`).join(', ')} }
math.randomseed(os.time())
-- Each host re-announces with its own peer id, so a swarm holds about one peer per host,
-- as in a fleet (random ids would grow the swarm without bound).
local function peer_id()
  return string.format("-SH0001-%012d", math.random(0, ${nHosts - 1}))
end
local function announce()
  local path = "${announcePath}?info_hash=" .. hashes[math.random(1, #hashes)] .. "&peer_id=" .. peer_id() ..
    "&port=" .. math.random(1024, 65000) .. "&uploaded=0&downloaded=0&left=" .. math.random(0, 1000000) .. "&compact=1&numwant=50"
  return wrk.format("GET", path)
end
request = function()
  ${kind === 'announce' ? 'return announce()' : `
  local r = math.random()
  if r < 0.6 then return announce() end
  if r < 0.9 then
    local body = '{"digest":"${digest}","state":"downloading","bytesDone":' .. math.random(0, 1000000) .. ',"bytesFromPeers":1,"bytesFromOrigin":1,"peers":3,"rate":1000}'
    local h = math.random(0, ${Math.floor(nHosts / parts) - 1}) * ${parts} + ${part}
    return wrk.format("POST", "/v1/hosts/host-" .. h .. "/reports", { ["Authorization"] = "Bearer " .. tokens[h + 1], ["Content-Type"] = "application/json" }, body)
  end
  return wrk.format("GET", "/v1/rollouts/web/prod/status", { ["Authorization"] = "Bearer ${VIEW}" })`}
end
`
}

interface WrkResult {
  rps: number
  p99ms: number
  errors: string
}

/** CPU seconds (user + system) used so far by the processes named `comm` (pgrep -x), or by these pids. */
function cpuSeconds(pids: number[]): number {
  let ticks = 0
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      ticks += Number(f[11]) + Number(f[12])
    } catch {
      // gone
    }
  }
  return ticks / 100
}
const pidsOf = (comm: string): number[] => (spawnSync('pgrep', ['-x', comm], { encoding: 'utf8' }).stdout ?? '').split('\n').filter(Boolean).map(Number)

/** CPU per request of each part while `load` runs: the trackers, PostgreSQL, Redis (ms per request). */
async function withCpu<T extends WrkResult>(trackers: ChildProcess[], load: () => Promise<T>): Promise<T & { cpu: { tracker: number; postgres: number; redis: number } }> {
  const parts = { tracker: () => trackers.map((c) => c.pid!), postgres: () => pidsOf('postgres'), redis: () => pidsOf('redis-server') }
  const before = Object.fromEntries(Object.entries(parts).map(([k, f]) => [k, cpuSeconds(f())]))
  const r = await load()
  const requests = r.rps * seconds
  const cpu = Object.fromEntries(Object.entries(parts).map(([k, f]) => [k, requests > 0 ? ((cpuSeconds(f()) - before[k]!) * 1000) / requests : 0])) as { tracker: number; postgres: number; redis: number }
  log(`  CPU per request: tracker ${cpu.tracker.toFixed(3)} ms, postgres ${cpu.postgres.toFixed(3)} ms, redis ${cpu.redis.toFixed(3)} ms`)
  return { ...r, cpu }
}

/** One wrk run; several at once (one per replica) are summed by runWrkOn. */
async function runWrk(base: string, script: string, name: string, conns = connections, quiet = false): Promise<WrkResult> {
  const file = join(work, `${name}.lua`)
  writeFileSync(file, script)
  const child = spawn('wrk', ['-t1', `-c${conns}`, `-d${seconds}s`, '--latency', '-s', file, base], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  const status = await new Promise<number | null>((resolve) => child.once('exit', resolve))
  const r = { status, stdout, stderr }
  if (r.status !== 0) throw new Error(`wrk failed: ${r.stderr}`)
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(r.stdout)?.[1])
  const p99 = /99%\s+([\d.]+)(us|ms|s)/.exec(r.stdout)
  const p99ms = p99 ? Number(p99[1]) * ({ us: 0.001, ms: 1, s: 1000 } as Record<string, number>)[p99[2]!]! : NaN
  const errors = /Non-2xx or 3xx responses: (\d+)/.exec(r.stdout)?.[1] ?? '0'
  if (!quiet) log(`${name}: ${rps.toFixed(0)} req/s, p99 ${p99ms.toFixed(1)} ms, non-2xx ${errors}`)
  return { rps, p99ms, errors }
}

/** The same load on every replica at once (connections split between them): summed req/s, worst p99. */
async function runWrkOn(bases: string[], script: (part: number, parts: number) => string, name: string): Promise<WrkResult> {
  const each = await Promise.all(bases.map((b, i) => runWrk(b, script(i, bases.length), `${name}-${i}`, Math.max(1, Math.round(connections / bases.length)), true)))
  const r = { rps: each.reduce((a, x) => a + x.rps, 0), p99ms: Math.max(...each.map((x) => x.p99ms)), errors: String(each.reduce((a, x) => a + Number(x.errors), 0)) }
  log(`${name} (${bases.length} replica${bases.length > 1 ? 's' : ''}): ${r.rps.toFixed(0)} req/s, p99 ${r.p99ms.toFixed(1)} ms, non-2xx ${r.errors}`)
  return r
}

/** Registers bundles, a release on web@prod and `n` hosts following it through `base`. */
async function setUp(base: string, n: number): Promise<{ infoHashes: string[]; digest: string }> {
  const infoHashes: string[] = []
  for (let i = 0; i < 50; i++) {
    const ih = randomBytes(20)
    infoHashes.push(esc(ih))
    await api(base, 'PUT', `/v1/bundles/sha256:${randomBytes(32).toString('hex')}`, SEED, { size: 1 << 30, infoHash: ih.toString('hex'), pieceLength: 1 << 20, webSeeds: [] })
  }
  const digest = `sha256:${randomBytes(32).toString('hex')}`
  await api(base, 'PUT', '/v1/releases/web/versions/1', PUB, { digest })
  await api(base, 'PUT', '/v1/channels/web/prod', PUB, { version: '1' })
  const token = (i: number): string => hostTokens[i] ?? deriveHostToken(HOST_KEY, `host-${i}`)
  let next = Date.now() + 10_000
  for (let i = 0; i < n; i += 100) {
    await Promise.all(Array.from({ length: Math.min(100, n - i) }, (_, k) => api(base, 'PUT', `/v1/hosts/host-${i + k}`, token(i + k), { labels: { rack: `r${(i + k) % 40}` }, follows: ['web@prod'] })))
    if (Date.now() > next) {
      log(`  ${i + 100} of ${n} hosts registered`)
      next = Date.now() + 10_000
    }
  }
  return { infoHashes, digest }
}

/** Kills a tracker; profiled (SHOAL_BENCH_CPU_PROF), lets it write its profile first. */
async function stopTracker(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null) return
  const gone = new Promise((r) => child.once('exit', r))
  child.kill(process.env.SHOAL_BENCH_CPU_PROF ? 'SIGINT' : 'SIGKILL')
  await gone
}

/** Status reads while reports arrive, the status cache off: the status read p99 at `n` hosts, each with a report. */
async function statusAtScale(kind: string, store: string, n: number): Promise<WrkResult & { hosts: number }> {
  const base = await startShoal(store, ['--status-cache-ms', '0', '--max-hosts', String(n)])
  log(`status at scale (${kind}): registering ${n} hosts, one report each`)
  const { digest } = await setUp(base, n)
  const token = (i: number): string => deriveHostToken(HOST_KEY, `host-${i}`)
  for (let i = 0; i < n; i += 100) {
    await Promise.all(Array.from({ length: Math.min(100, n - i) }, (_, k) => api(base, 'POST', `/v1/hosts/host-${i + k}/reports`, token(i + k), { digest, state: 'downloading', bytesDone: (i + k) % 1000, bytesFromPeers: 1, bytesFromOrigin: 1, peers: 3, rate: 1000 })))
  }
  await api(base, 'GET', '/v1/rollouts/web/prod/status', VIEW) // builds the view (one full read), as the first reader after a move does
  const reads = `request = function() return wrk.format("GET", "/v1/rollouts/web/prod/status", { ["Authorization"] = "Bearer ${VIEW}" }) end`
  const writes = luaScript('mixed', `/announce/${hostTokens[0]}`, [], digest).replace('if r < 0.6 then return announce() end', '').replace('if r < 0.9 then', 'if true then')
  const [status] = await Promise.all([runWrk(base, reads, `status-reads-${kind}`, 1), runWrk(base, writes, `status-reports-${kind}`, 16)])
  await stopTracker(children.pop())
  return { ...status, hosts: n }
}

try {
  for (const tool of ['wrk', 'opentracker']) if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) throw new Error(`${tool} is not installed (Debian package ${tool})`)
  const results: Array<{ store: string; replicas: number; mixed: WrkResult & { cpu: { tracker: number; postgres: number; redis: number } }; announce: WrkResult }> = []
  const atScale: Array<WrkResult & { store: string; hosts: number }> = []
  const controls: Array<{ replicas: number; mixed: WrkResult & { cpu: { tracker: number; postgres: number; redis: number } } }> = []
  let pgi: PrivatePostgres | undefined
  let redis: PrivateRedis | undefined
  let redisDb = 0
  for (const kind of stores) {
    const runs: Array<{ replicas: number; stores: () => Promise<{ store: string; env: Record<string, string> }> }> = []
    if (kind === 'postgres') {
      const why = whyNoPostgres()
      if (why) {
        log(`postgres skipped: ${why}`)
        continue
      }
      pgi ??= await startPostgres()
      const noRedis = whyNoRedis()
      if (noRedis && replicaCounts.some((n) => n > 1)) log(`replicas run without shared swarms: ${noRedis}`)
      redis ??= noRedis ? undefined : await startRedis()
      for (const n of replicaCounts) {
        const db = await pgi.createDatabase()
        const env: Record<string, string> = redis && n > 1 ? { SHOAL_REDIS: `${redis.url}/${++redisDb % 16}` } : {}
        runs.push({ replicas: n, stores: async () => ({ store: db, env }) })
      }
    } else runs.push({ replicas: 1, stores: async () => ({ store: `level:${join(work, `data-${kind}`)}`, env: {} }) })
    for (const run of runs) {
      const { store, env } = await run.stores()
      const bases: string[] = []
      for (let i = 0; i < run.replicas; i++) bases.push(await startShoal(store, [], env))
      log(`shoal tracker (${kind}, ${run.replicas} replica${run.replicas > 1 ? 's' : ''}) at ${bases.join(' ')}; setting up ${nHosts} hosts`)
      const { infoHashes, digest } = await setUp(bases[0]!, nHosts)
      const trackers = children.slice(-run.replicas)
      const mixed = await withCpu(trackers, () => runWrkOn(bases, (part, parts) => luaScript('mixed', `/announce/${hostTokens[0]}`, infoHashes, digest, part, parts), `mixed-${kind}`))
      const announce = await runWrkOn(bases, () => luaScript('announce', `/announce/${hostTokens[0]}`, infoHashes, digest), `shoal-announce-${kind}`)
      results.push({ store: kind, replicas: run.replicas, mixed, announce })
      if (run.replicas > 1) {
        // The control: the same N wrk processes, all against replica 0 (the others idle). On a
        // 2-core box the load generators alone cost throughput; this row tells how much.
        const control = await withCpu(trackers, () => runWrkOn(bases.map(() => bases[0]!), (part, parts) => luaScript('mixed', `/announce/${hostTokens[0]}`, infoHashes, digest, part, parts), `mixed-${kind}-control`))
        controls.push({ replicas: run.replicas, mixed: control })
      }
      for (let i = 0; i < run.replicas; i++) await stopTracker(children.pop())
    }
    if (statusHosts > 0) atScale.push({ store: kind, ...(await statusAtScale(kind, kind === 'postgres' ? await pgi!.createDatabase() : `level:${join(work, `scale-${kind}`)}`, statusHosts)) })
  }
  const infoHashes = Array.from({ length: 50 }, () => esc(randomBytes(20)))
  const digest = `sha256:${randomBytes(32).toString('hex')}`

  const otPort = await freePort()
  const ot = spawn('opentracker', ['-i', '127.0.0.1', '-p', String(otPort), '-P', String(otPort)], { stdio: 'ignore' })
  children.push(ot)
  for (let i = 0; i < 50; i++) {
    try {
      await fetch(`http://127.0.0.1:${otPort}/stats`)
      break
    } catch {
      await new Promise((r) => setTimeout(r, 100))
    }
  }
  const otAnnounce = await runWrk(`http://127.0.0.1:${otPort}`, luaScript('announce', '/announce', infoHashes, digest), 'opentracker-announce')

  console.log(`\nbench:tracker — ${seconds} s per run, wrk -t1 -c${connections} (split between replicas), ${nHosts} hosts following web@prod, node ${process.version}\n`)
  console.log('| load | target | req/s | per replica | p99 | non-2xx | ok |')
  console.log('|---|---|---|---|---|---|---|')
  const level = results.find((r) => r.store === 'level')
  for (const r of results) {
    const who = `Shoal, ${r.store}${r.store === 'postgres' ? ` x${r.replicas}` : ''}`
    const vsLevel = level && r !== level ? `, ${(r.mixed.rps / r.replicas / level.mixed.rps).toFixed(2)}x level per replica` : ''
    console.log(`| mixed (60% announce, 30% report, 10% status) | ${who} | ${r.mixed.rps.toFixed(0)} | ${(r.mixed.rps / r.replicas).toFixed(0)}${vsLevel} | ${r.mixed.p99ms.toFixed(1)} ms | ${r.mixed.errors} | ${r.mixed.rps >= 5000 && r.mixed.p99ms < 50 ? 'yes' : 'NO'} (>= 5000/s, p99 < 50 ms) |`)
    console.log(`| announce only | ${who} | ${r.announce.rps.toFixed(0)} | ${(r.announce.rps / r.replicas).toFixed(0)} | ${r.announce.p99ms.toFixed(1)} ms | ${r.announce.errors} | |`)
  }
  console.log(`| announce only | opentracker | ${otAnnounce.rps.toFixed(0)} | | ${otAnnounce.p99ms.toFixed(1)} ms | ${otAnnounce.errors} | |`)
  for (const c of controls) console.log(`| mixed, control: the ${c.replicas} wrk processes all on one replica | Shoal, postgres | ${c.mixed.rps.toFixed(0)} | | ${c.mixed.p99ms.toFixed(1)} ms | ${c.mixed.errors} | |`)
  console.log('')
  console.log('CPU per mixed request (ms, user + system, from /proc; all parts share the same 2 cores):')
  console.log('')
  console.log('| store | trackers | PostgreSQL | Redis | total |')
  console.log('|---|---|---|---|---|')
  for (const r of results) console.log(`| ${r.store}${r.store === 'postgres' ? ` x${r.replicas}` : ''} | ${r.mixed.cpu.tracker.toFixed(3)} | ${r.mixed.cpu.postgres.toFixed(3)} | ${r.mixed.cpu.redis.toFixed(3)} | ${(r.mixed.cpu.tracker + r.mixed.cpu.postgres + r.mixed.cpu.redis).toFixed(3)} |`)
  for (const c of controls) console.log(`| postgres, control (${c.replicas} wrk on one replica) | ${c.mixed.cpu.tracker.toFixed(3)} | ${c.mixed.cpu.postgres.toFixed(3)} | ${c.mixed.cpu.redis.toFixed(3)} | ${(c.mixed.cpu.tracker + c.mixed.cpu.postgres + c.mixed.cpu.redis).toFixed(3)} |`)
  for (const s of atScale) console.log(`| status reads while reports arrive, ${s.hosts} hosts and reports, cache off | Shoal, ${s.store} | ${s.rps.toFixed(0)} | | ${s.p99ms.toFixed(1)} ms | ${s.errors} | ${s.p99ms < 50 ? 'yes' : 'NO'} (p99 < 50 ms) |`)
  console.log('')
  for (const r of results) console.log(`Shoal (${r.store} x${r.replicas}) / opentracker announce throughput: ${(r.announce.rps / otAnnounce.rps).toFixed(2)}x`)
  pgi?.stop()
  await redis?.stop()
} finally {
  // SIGINT lets a profiled tracker write its profile; the rest are killed outright.
  for (const c of children) c.kill(process.env.SHOAL_BENCH_CPU_PROF ? 'SIGINT' : 'SIGKILL')
  rmSync(work, { recursive: true, force: true })
}
