/**
 * npm run bench:tracker [-- --seconds 15 --hosts 2000 --connections 32 --stores level,postgres]
 *
 * Load from a separate process (wrk, Debian) against a real `shoal tracker` process:
 * 1. mixed: 60% announces, 30% host reports (each a synchronous level write), 10% rollout
 *    status reads over all hosts. Target: >= 5,000 requests/s with p99 < 50 ms on 2 cores.
 * 2. announce-only, against Shoal and against opentracker (Debian) in the same run; ratio.
 * Each store named in --stores gets its own tracker (postgres: a private instance under a temp
 * dir, as the tests run it), so the figures compare in one run.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { deriveHostToken } from '../src/core/tokens.js'
import { startPostgres, whyNoPostgres, type PrivatePostgres } from '../test/helpers/postgres.js'
import { benchOption } from './bench-args.js'

const opt = benchOption
const seconds = Number(opt('seconds', '15'))
const nHosts = Number(opt('hosts', '2000'))
const connections = Number(opt('connections', '32'))
const stores = opt('stores', 'level,postgres').split(',')
const log = (s: string): void => void process.stderr.write(`[bench:tracker] ${s}\n`)
const work = mkdtempSync(join(tmpdir(), 'shoal-tracker-bench-'))
const children: ChildProcess[] = []

const PUB = randomBytes(16).toString('hex')
const SEED = randomBytes(16).toString('hex')
const HOST_KEY = randomBytes(24).toString('hex')
const VIEW = randomBytes(16).toString('hex')
/** Every host speaks with its own token (issue 12: a host token acts only for its host). */
const hostTokens = Array.from({ length: nHosts }, (_, i) => deriveHostToken(HOST_KEY, `host-${i}`))

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port
      s.close(() => resolve(port))
    })
  })
}

async function startShoal(store: string): Promise<string> {
  writeFileSync(join(work, 'tokens'), `publisher ${PUB} bench\nseeder ${SEED} bench\nhost-key ${HOST_KEY} bench\nviewer ${VIEW} bench\n`)
  // Started exactly as an operator would, through bin/shoal.js and its V8 flags.
  const profile = process.env.SHOAL_BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.SHOAL_BENCH_CPU_PROF}`] : []
  const child = spawn(process.execPath, [...profile, join(import.meta.dirname, '../bin/shoal.js'), 'tracker', '--tokens', join(work, 'tokens'), '--port', '0', '-q'], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, SHOAL_STORE: store },
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

function luaScript(kind: 'mixed' | 'announce', announcePath: string, infoHashes: string[], digest: string): string {
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
    local h = math.random(0, ${nHosts - 1})
    return wrk.format("POST", "/v1/hosts/host-" .. h .. "/reports", { ["Authorization"] = "Bearer " .. tokens[h + 1], ["Content-Type"] = "application/json" }, body)
  end
  return wrk.format("GET", "/v1/rollouts/web/prod/status", { ["Authorization"] = "Bearer ${VIEW}" })`}
end
`
}

function runWrk(base: string, script: string, name: string): { rps: number; p99ms: number; errors: string } {
  const file = join(work, `${name}.lua`)
  writeFileSync(file, script)
  const r = spawnSync('wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', '-s', file, base], { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`wrk failed: ${r.stderr}`)
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(r.stdout)?.[1])
  const p99 = /99%\s+([\d.]+)(us|ms|s)/.exec(r.stdout)
  const p99ms = p99 ? Number(p99[1]) * ({ us: 0.001, ms: 1, s: 1000 } as Record<string, number>)[p99[2]!]! : NaN
  const errors = /Non-2xx or 3xx responses: (\d+)/.exec(r.stdout)?.[1] ?? '0'
  log(`${name}: ${rps.toFixed(0)} req/s, p99 ${p99ms.toFixed(1)} ms, non-2xx ${errors}`)
  return { rps, p99ms, errors }
}

try {
  for (const tool of ['wrk', 'opentracker']) if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) throw new Error(`${tool} is not installed (Debian package ${tool})`)
  const results: Array<{ store: string; mixed: ReturnType<typeof runWrk>; announce: ReturnType<typeof runWrk> }> = []
  let pgi: PrivatePostgres | undefined
  for (const kind of stores) {
    let store = `level:${join(work, `data-${kind}`)}`
    if (kind === 'postgres') {
      const why = whyNoPostgres()
      if (why) {
        log(`postgres skipped: ${why}`)
        continue
      }
      pgi ??= await startPostgres()
      store = await pgi.createDatabase()
    }
    const base = await startShoal(store)
    log(`shoal tracker (${kind}) at ${base}; setting up ${nHosts} hosts`)
    const infoHashes: string[] = []
    for (let i = 0; i < 50; i++) {
      const ih = randomBytes(20)
      infoHashes.push(esc(ih))
      await api(base, 'PUT', `/v1/bundles/sha256:${randomBytes(32).toString('hex')}`, SEED, { size: 1 << 30, infoHash: ih.toString('hex'), pieceLength: 1 << 20, webSeeds: [] })
    }
    const digest = `sha256:${randomBytes(32).toString('hex')}`
    await api(base, 'PUT', '/v1/releases/web/versions/1', PUB, { digest })
    await api(base, 'PUT', '/v1/channels/web/prod', PUB, { version: '1' })
    for (let i = 0; i < nHosts; i += 100) {
      await Promise.all(Array.from({ length: Math.min(100, nHosts - i) }, (_, k) => api(base, 'PUT', `/v1/hosts/host-${i + k}`, hostTokens[i + k]!, { labels: { rack: `r${(i + k) % 40}` }, follows: ['web@prod'] })))
    }
    const mixed = runWrk(base, luaScript('mixed', `/announce/${hostTokens[0]}`, infoHashes, digest), `mixed-${kind}`)
    const announce = runWrk(base, luaScript('announce', `/announce/${hostTokens[0]}`, infoHashes, digest), `shoal-announce-${kind}`)
    results.push({ store: kind, mixed, announce })
    children.pop()?.kill('SIGKILL')
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
  const otAnnounce = runWrk(`http://127.0.0.1:${otPort}`, luaScript('announce', '/announce', infoHashes, digest), 'opentracker-announce')

  console.log(`\nbench:tracker — ${seconds} s per run, wrk -t1 -c${connections}, ${nHosts} hosts following web@prod, node ${process.version}\n`)
  console.log('| load | target | req/s | p99 | non-2xx | ok |')
  console.log('|---|---|---|---|---|---|')
  for (const r of results) {
    console.log(`| mixed (60% announce, 30% report, 10% status) | Shoal, ${r.store} | ${r.mixed.rps.toFixed(0)} | ${r.mixed.p99ms.toFixed(1)} ms | ${r.mixed.errors} | ${r.mixed.rps >= 5000 && r.mixed.p99ms < 50 ? 'yes' : 'NO'} (>= 5000/s, p99 < 50 ms) |`)
    console.log(`| announce only | Shoal, ${r.store} | ${r.announce.rps.toFixed(0)} | ${r.announce.p99ms.toFixed(1)} ms | ${r.announce.errors} | |`)
  }
  console.log(`| announce only | opentracker | ${otAnnounce.rps.toFixed(0)} | ${otAnnounce.p99ms.toFixed(1)} ms | ${otAnnounce.errors} | |`)
  console.log('')
  for (const r of results) console.log(`Shoal (${r.store}) / opentracker announce throughput: ${(r.announce.rps / otAnnounce.rps).toFixed(2)}x`)
  if (results.length > 1) console.log(`mixed load, ${results[1]!.store} / ${results[0]!.store}: ${(results[1]!.mixed.rps / results[0]!.mixed.rps).toFixed(2)}x`)
  pgi?.stop()
} finally {
  // SIGINT lets a profiled tracker write its profile; the rest are killed outright.
  for (const c of children) c.kill(process.env.SHOAL_BENCH_CPU_PROF ? 'SIGINT' : 'SIGKILL')
  rmSync(work, { recursive: true, force: true })
}
