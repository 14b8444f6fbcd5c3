/**
 * Hostile clients against a tracker, run as their own process (so they can hold tens of
 * thousands of sockets under their own open-files limit) by test/hostile/soak.test.ts:
 *
 *   node --import tsx test/hostile/hostile-clients.ts <tracker-url> <config-json>
 *
 * config: { slow, slowFirstIp, sse, flood, failingHosts, hostKey, viewerToken, infoHash, release, channel, seconds }
 * - slow: sockets that send request headers a byte every 2 s (slowloris), spread over
 *   127.0.0.<slowFirstIp>.. (250 per address), reconnected when the tracker drops them;
 * - sse: event-stream readers that never read (paused sockets), from 127.0.0.91/92;
 * - flood: announces with made-up peer ids from one host token, from 127.0.0.90;
 * - failingHosts: hosts that follow release@channel and keep reporting failures with distinct
 *   codes (so the status changes, and grows without a bound on its failures list).
 * Prints one JSON line per second with what it holds and has sent; exits once the flood is sent
 * and at least `seconds` have passed (or after `maxSeconds`).
 */
import { randomBytes } from 'node:crypto'
import { Agent, request } from 'node:http'
import { connect, type Socket } from 'node:net'
import { deriveHostToken } from '../../src/core/index.js'

interface Config {
  slow: number
  slowFirstIp: number
  sse: number
  flood: number
  failingHosts: number
  hostKey: string
  viewerToken: string
  infoHash: string
  release: string
  channel: string
  seconds: number
  maxSeconds: number
}

const [base, json] = process.argv.slice(2) as [string, string]
const cfg = JSON.parse(json) as Config
const url = new URL(base)
const port = Number(url.port)
const stats = { slowOpen: 0, slowDropped: 0, sseOpen: 0, sseRefused: 0, announces: 0, announceErrors: 0, reports: 0, reportErrors: 0 }
const started = Date.now()
let until = started + cfg.maxSeconds * 1000
const sockets = new Set<Socket>()

function slowSocket(i: number): void {
  if (Date.now() > until) return
  const s = connect({ host: url.hostname, port, localAddress: `127.0.0.${cfg.slowFirstIp + Math.floor(i / 250)}` })
  sockets.add(s)
  let open = false
  let openedAt = 0
  let timer: NodeJS.Timeout | undefined
  s.on('error', () => {})
  s.once('connect', () => {
    open = true
    openedAt = Date.now()
    stats.slowOpen++
    s.write('GET /v1/health HTTP/1.1\r\nHost: x\r\n')
    timer = setInterval(() => s.write('X'), 2000)
  })
  s.once('close', () => {
    clearInterval(timer)
    sockets.delete(s)
    if (open) stats.slowOpen--
    stats.slowDropped++
    // Back again: at once after a headers timeout (it held its slot), after 5 s when refused
    // outright (a refusal costs the tracker an accept; 16,000 of them twice a second would make
    // this a CPU test of the machine rather than a memory test of the tracker).
    const refused = !open || Date.now() - openedAt < 1000
    setTimeout(() => slowSocket(i), refused ? 5000 : 100)
  })
}

function sseReader(i: number): void {
  const s = connect({ host: url.hostname, port, localAddress: `127.0.0.${91 + (i % 2)}` })
  sockets.add(s)
  s.on('error', () => {})
  s.once('connect', () => {
    s.write(`GET /v1/rollouts/${cfg.release}/${cfg.channel}/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${cfg.viewerToken}\r\n\r\n`)
    stats.sseOpen++
    // Read nothing, ever: the kernel buffers fill, then the tracker's.
    s.pause()
  })
  s.once('close', () => {
    sockets.delete(s)
    stats.sseOpen--
    stats.sseRefused++
  })
}

const esc = (b: Buffer): string => [...b].map((x) => `%${x.toString(16).padStart(2, '0')}`).join('')
const floodAgent = new Agent({ keepAlive: true, maxSockets: 16, localAddress: '127.0.0.90' })
const floodToken = deriveHostToken(cfg.hostKey, 'flooder')
function announceOnce(): Promise<void> {
  return new Promise((resolve) => {
    const q = `info_hash=${esc(Buffer.from(cfg.infoHash, 'hex'))}&peer_id=${esc(randomBytes(20))}&port=${1 + Math.floor(Math.random() * 60000)}&left=100&event=started&compact=1&numwant=50`
    const req = request({ host: url.hostname, port, path: `/announce/${floodToken}?${q}`, agent: floodAgent }, (res) => {
      res.resume()
      res.once('end', () => {
        stats.announces++
        resolve()
      })
    })
    req.on('error', () => {
      stats.announceErrors++
      resolve()
    })
    req.end()
  })
}
async function flood(): Promise<void> {
  let left = cfg.flood
  const worker = async (): Promise<void> => {
    while (left > 0 && Date.now() < until) {
      left--
      await announceOnce()
    }
  }
  await Promise.all(Array.from({ length: 16 }, worker))
}

const reportAgent = new Agent({ keepAlive: true, maxSockets: 8, localAddress: '127.0.0.93' })
function call(method: string, path: string, token: string, body: unknown): Promise<number> {
  return new Promise((resolve) => {
    const data = JSON.stringify(body)
    const req = request({ host: url.hostname, port, method, path, agent: reportAgent, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } }, (res) => {
      res.resume()
      res.once('end', () => resolve(res.statusCode ?? 0))
    })
    req.on('error', () => resolve(0))
    req.end(data)
  })
}
async function failingHosts(digest: () => Promise<string | undefined>): Promise<void> {
  if (cfg.failingHosts === 0) return
  const ids = Array.from({ length: cfg.failingHosts }, (_, i) => `victim-${i}`)
  const pool = async <T>(items: T[], fn: (x: T) => Promise<void>): Promise<void> => {
    let next = 0
    await Promise.all(Array.from({ length: 8 }, async () => {
      while (next < items.length) await fn(items[next++]!)
    }))
  }
  await pool(ids, async (h) => void (await call('PUT', `/v1/hosts/${h}`, deriveHostToken(cfg.hostKey, h), { labels: { rack: `r${h.length}` }, follows: [`${cfg.release}@${cfg.channel}`] })))
  const d = await digest()
  if (!d) return
  let round = 0
  while (Date.now() < until) {
    round++
    await pool(ids, async (h) => {
      const code = await call('POST', `/v1/hosts/${h}/reports`, deriveHostToken(cfg.hostKey, h), { digest: d, state: 'failed', bytesDone: round, errorCode: `FAILED_${h.replace(/\W/g, '_').toUpperCase()}_${round % 7}`, message: 'x'.repeat(1500) })
      if (code === 200) stats.reports++
      else stats.reportErrors++
    })
  }
}
async function channelDigest(): Promise<string | undefined> {
  for (let i = 0; i < 100 && Date.now() < until; i++) {
    const r = await fetch(`${base}/v1/channels/${cfg.release}/${cfg.channel}`, { headers: { authorization: `Bearer ${cfg.viewerToken}` } }).catch(() => undefined)
    if (r?.ok) return ((await r.json()) as { digest: string }).digest
    await new Promise((res) => setTimeout(res, 200))
  }
  return undefined
}

const ticker = setInterval(() => process.stdout.write(`${JSON.stringify(stats)}\n`), 1000)
for (let i = 0; i < cfg.sse; i++) sseReader(i)
for (let i = 0; i < cfg.slow; i++) slowSocket(i)
await Promise.all([
  flood().then(() => {
    // The flood is the slowest part on a busy machine: everything stops once it is sent.
    until = Math.min(until, Math.max(Date.now(), started + cfg.seconds * 1000))
  }),
  failingHosts(channelDigest),
])
while (Date.now() < until) await new Promise((r) => setTimeout(r, 200))
clearInterval(ticker)
process.stdout.write(`${JSON.stringify({ ...stats, done: true })}\n`)
for (const s of sockets) s.destroy()
floodAgent.destroy()
reportAgent.destroy()
process.exit(0)
