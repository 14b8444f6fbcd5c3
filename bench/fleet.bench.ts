/**
 * bench:fleet — N hosts, each in its own network namespace, behind a `tc` rate limit on both
 * directions of its link, wired as a routed star (each host a /32, the root namespace its
 * gateway; a flat bridge overflows the shared neighbour table from about N=32). One namespace
 * runs tracker, seeder and nginx. Scenarios in one run, each on a fresh bundle of S bytes:
 *   nginx  every host fetches over HTTP from one nginx (curl) and checks the sha256
 *   aria2c every host runs aria2c with the same torrent, tracker and seeder
 *   shoal  every host runs `shoal fetcher`
 *   shoal-v2  (with --only ...,shoal-v2) every host runs v1 of a release, then the clock runs for
 *          the move to v2: the same payload with a contiguous 5% of it rewritten (incremental
 *          releases: hosts derive the rest from v1); also reports the bytes hosts fetched over S
 *   shoal-nolabels  (with --only) as shoal, but the fetchers state no rack (no --label)
 * Per scenario: the time until the last host holds the verified bundle, that time over
 * T_min = max(S/u, N*S/((N+1)*u)), origin egress over S, and the hosts' CPU-seconds.
 *
 * With --racks K the hosts sit behind K rack routers (namespaces of their own, host k in rack
 * k mod K) whose uplinks to the core (the root namespace, where the origin hangs) are limited to
 * --uplink-mbit each way (default: the rack's hosts' rate over 4, i.e. 4:1 oversubscribed);
 * fetchers are labelled rack=r<k mod K>, and each scenario also reports the bytes that entered
 * each rack over its uplink as copies of the bundle (1.0 = the rack pulled it once).
 *
 *   sudo npm run bench:fleet -- [--hosts 8] [--size-mib 32] [--rate-mbit 40] [--only shoal,aria2c,nginx]
 *     [--racks 4] [--uplink-mbit U]
 *
 * Needs root, iproute2, tc, nginx, aria2c and curl. Everything it creates (namespaces, veths,
 * processes, temp dirs) is removed on exit, failures and Ctrl-C included.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { deriveHostToken } from '../src/core/tokens.js'
import { benchOption } from './bench-args.js'
import { api, waitLine } from './processes.js'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const SHOAL = join(ROOT, 'bin', 'shoal.js')
const N = Number(benchOption('hosts', '8'))
const S = Number(benchOption('size-mib', '32')) * 1024 * 1024
const RATE_MBIT = Number(benchOption('rate-mbit', '40'))
const ONLY = benchOption('only', 'nginx,aria2c,shoal').split(',')
const RACKS = Number(benchOption('racks', '0'))
const UPLINK_MBIT = Number(benchOption('uplink-mbit', String((Math.ceil(N / Math.max(1, RACKS)) * RATE_MBIT) / 4)))
const rackOf = (k: number): number => k % Math.max(1, RACKS)
/** A directory for CPU profiles of the fetchers (--cpu-prof), to see where host CPU goes. */
const PROFILE = benchOption('profile', '')
const u = (RATE_MBIT * 1e6) / 8 // bytes per second
const T_MIN = Math.max(S / u, (N * S) / ((N + 1) * u))
const TOKENS = { publisher: randomBytes(12).toString('hex'), seeder: randomBytes(12).toString('hex'), hostKey: randomBytes(24).toString('hex') }
/** Host tokens are bound to one host (issue 12): each host gets its own, derived from the host key. */
const hostToken = (hostId: string): string => deriveHostToken(TOKENS.hostKey, hostId)

const sh = (cmd: string, args: string[]): string => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
const inNs = (ns: string, cmd: string, args: string[]): string => sh('ip', ['netns', 'exec', ns, cmd, ...args])
const log = (msg: string): void => void process.stderr.write(`[fleet] ${msg}\n`)

// ---- the network ----------------------------------------------------------------------------
const tag = `sf${process.pid % 10000}`
const created: { netns: string[]; forward?: string } = { netns: [] }
const children: ChildProcess[] = []

function pickSubnet(): number {
  const routes = sh('ip', ['-4', 'route', 'show', 'table', 'all']) + sh('ip', ['-4', 'addr'])
  for (let x = 200; x < 255; x++) if (!routes.includes(`10.${x}.`)) return x
  throw new Error('no free 10.x.0.0/16 range for the bench')
}

interface Node {
  ns: string
  ip: string
}

/** `tc qdisc add ... tbf` at `mbit`: a queue of about 50 ms at the link rate, the way a switch port buffers. */
const tbf = (mbit: number): string[] => ['root', 'tbf', 'rate', `${mbit}mbit`, 'burst', '32kb', 'latency', '50ms']

/**
 * A new namespace `ns` on a veth pair: `outer` at the gateway end (commands through `atGw`: the
 * root namespace or a rack router's), `inner` inside; each end a /32 routed to the other, the
 * namespace's default route via the gateway.
 */
function linkNamespace(ns: string, outer: string, inner: string, gw: string, ip: string, atGw: (cmd: string, args: string[]) => string = sh): void {
  sh('ip', ['netns', 'add', ns])
  created.netns.push(ns)
  atGw('ip', ['link', 'add', outer, 'type', 'veth', 'peer', 'name', inner, 'netns', ns])
  atGw('ip', ['addr', 'add', `${gw}/32`, 'dev', outer])
  atGw('ip', ['link', 'set', outer, 'up'])
  atGw('ip', ['route', 'add', `${ip}/32`, 'dev', outer])
  inNs(ns, 'ip', ['link', 'set', 'lo', 'up'])
  inNs(ns, 'ip', ['addr', 'add', `${ip}/32`, 'dev', inner])
  inNs(ns, 'ip', ['link', 'set', inner, 'up'])
  inNs(ns, 'ip', ['route', 'add', `${gw}/32`, 'dev', inner])
  inNs(ns, 'ip', ['route', 'add', 'default', 'via', gw, 'dev', inner])
}

/**
 * A rack router: a namespace whose uplink (veth `up0`, 10.<subnet>.<200+r>.2) leads to the root
 * namespace (the core), limited to `mbit` each way. Its hosts' links end in it.
 */
function addRack(r: number, subnet: number, mbit: number): Node {
  const ns = `${tag}-r${r}`
  const outer = `${tag}r${r}`.slice(0, 15)
  const ip = `10.${subnet}.${200 + r}.2`
  linkNamespace(ns, outer, 'up0', `10.${subnet}.${200 + r}.1`, ip)
  inNs(ns, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1'])
  inNs(ns, 'tc', ['qdisc', 'add', 'dev', 'up0', ...tbf(mbit)]) // out of the rack
  sh('tc', ['qdisc', 'add', 'dev', outer, ...tbf(mbit)]) // into the rack
  return { ns, ip }
}

/** Segments TCP retransmitted from inside `ns` so far (its /proc/net/snmp). */
const retrans = (ns: string): number => {
  const rows = inNs(ns, 'cat', ['/proc/net/snmp']).split('\n').filter((l) => l.startsWith('Tcp:'))
  const names = rows[0]!.split(/\s+/)
  return Number(rows[1]!.split(/\s+/)[names.indexOf('RetransSegs')])
}
/** Packets a qdisc dropped so far (`tc -s`), in the root namespace or `ns`. */
const drops = (dev: string, ns?: string): number => {
  const out = ns ? inNs(ns, 'tc', ['-s', 'qdisc', 'show', 'dev', dev]) : sh('tc', ['-s', 'qdisc', 'show', 'dev', dev])
  return Number(/dropped (\d+)/.exec(out)?.[1] ?? 0)
}

/** Bytes that entered a rack over its uplink so far. */
const rackRx = (rack: Node): number => Number(inNs(rack.ns, 'cat', ['/sys/class/net/up0/statistics/rx_bytes']).trim())

/**
 * One namespace on a veth pair, routed as a /32 through its gateway namespace (the root, or its
 * rack router, which the root then routes the /32 to), rate-limited both ways.
 */
function addNode(name: string, index: number, subnet: number, rack?: Node): Node {
  const ns = `${tag}-${name}`
  const outer = `${tag}${name}`.slice(0, 15)
  const ip = `10.${subnet}.${index}.2`
  const atGw = (cmd: string, args: string[]): string => (rack ? inNs(rack.ns, cmd, args) : sh(cmd, args))
  linkNamespace(ns, outer, 'eth0', `10.${subnet}.${index}.1`, ip, atGw)
  if (rack) sh('ip', ['route', 'add', `${ip}/32`, 'via', rack.ip])
  // Egress of each end: the host's upload inside, its download outside.
  inNs(ns, 'tc', ['qdisc', 'add', 'dev', 'eth0', ...tbf(RATE_MBIT)])
  atGw('tc', ['qdisc', 'add', 'dev', outer, ...tbf(RATE_MBIT)])
  return { ns, ip }
}

function cleanup(): void {
  for (const c of children.splice(0)) {
    try {
      c.kill('SIGKILL')
    } catch {
      /* gone */
    }
  }
  for (const ns of created.netns.splice(0)) {
    try {
      sh('ip', ['netns', 'pids', ns])
        .split('\n')
        .filter(Boolean)
        .forEach((p) => process.kill(Number(p), 'SIGKILL'))
    } catch {
      /* empty */
    }
    try {
      sh('ip', ['netns', 'del', ns]) // removes its veth pair too
    } catch {
      /* already gone */
    }
  }
  if (created.forward !== undefined) {
    sh('sysctl', ['-qw', `net.ipv4.ip_forward=${created.forward}`])
    created.forward = undefined
  }
}
process.on('SIGINT', () => {
  cleanup()
  process.exit(130)
})

// ---- processes ------------------------------------------------------------------------------
function spawnIn(ns: string, cmd: string, args: string[], opts: { lines?: (l: string) => void; cwd?: string } = {}): ChildProcess {
  const c = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'], cwd: opts.cwd })
  children.push(c)
  if (opts.lines) {
    createInterface({ input: c.stdout! }).on('line', opts.lines)
    createInterface({ input: c.stderr! }).on('line', opts.lines)
  } else {
    c.stdout!.resume()
    c.stderr!.resume()
  }
  return c
}

/** utime + stime of a process, in seconds (`ip netns exec` execs, so the pid is the program). */
function cpuSeconds(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
    if (process.env.SHOAL_BENCH_DEBUG) log(`pid ${pid} user ${Number(f[11]) / 100} s, system ${Number(f[12]) / 100} s`)
    return (Number(f[11]) + Number(f[12])) / 100 // fields 14, 15 of stat; clock ticks at 100 Hz
  } catch {
    return 0
  }
}
const txBytes = (node: Node): number => Number(inNs(node.ns, 'cat', ['/sys/class/net/eth0/statistics/tx_bytes']).trim())

// ---- scenarios ------------------------------------------------------------------------------
interface Result {
  scenario: string
  times: number[] // seconds from start, per host, sorted
  originBytes: number
  cpu: number
  /** Bytes the hosts fetched over the network (their reports: from peers + from the origin). */
  hostBytes?: number
  /** With racks: bytes that entered each rack over its uplink, per rack. */
  rackBytes?: number[]
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('bench:fleet needs root (network namespaces and tc)')
  for (const tool of ['ip', 'tc', 'nginx', 'aria2c', 'curl']) {
    try {
      sh('sh', ['-c', `command -v ${tool}`])
    } catch {
      throw new Error(`bench:fleet needs ${tool} (apt-get install iproute2 nginx-light aria2 curl)`)
    }
  }
  const work = await mkdtemp(join(tmpdir(), 'shoal-fleet-'))
  const results: Result[] = []
  try {
    const subnet = pickSubnet()
    created.forward = sh('sysctl', ['-n', 'net.ipv4.ip_forward']).trim()
    sh('sysctl', ['-qw', 'net.ipv4.ip_forward=1'])
    const origin = addNode('o', 0, subnet)
    if (RACKS > 0 && N + 1 >= 200) throw new Error('bench:fleet with --racks holds at most 198 hosts (10.x.200+ are the rack links)')
    const racks = Array.from({ length: RACKS }, (_, r) => addRack(r, subnet, UPLINK_MBIT))
    const hosts = Array.from({ length: N }, (_, k) => addNode(`h${k}`, k + 1, subnet, racks[rackOf(k)]))
    log(`${N} hosts + origin on 10.${subnet}.0.0/16, ${RATE_MBIT} Mbit/s each way per link; S = ${S / 2 ** 20} MiB; T_min = ${T_MIN.toFixed(2)} s`)
    if (RACKS > 0) log(`${RACKS} racks, uplinks ${UPLINK_MBIT} Mbit/s each way (${((Math.ceil(N / RACKS) * RATE_MBIT) / UPLINK_MBIT).toFixed(1)}:1)`)

    // Control plane in the origin namespace, reached from the root namespace through its link.
    await writeFile(join(work, 'tokens'), `publisher ${TOKENS.publisher}\nseeder ${TOKENS.seeder}\nhost-key ${TOKENS.hostKey}\n`)
    const tracker = spawnIn(origin.ns, process.execPath, [SHOAL, 'tracker', '--data-dir', join(work, 'tracker'), '--tokens', join(work, 'tokens'), '--host', '0.0.0.0', '--port', '7700', '-q'])
    await waitLine(tracker, (l) => l.includes('listening'), 'tracker')
    const trackerUrl = `http://${origin.ip}:7700`
    const seeder = spawnIn(origin.ns, process.execPath, [
      SHOAL, 'seeder', '--data-dir', join(work, 'seeder'), '--tokens', join(work, 'tokens'), '--host', '0.0.0.0', '--port', '7701', '--peer-port', '6881',
      '--public-url', `http://${origin.ip}:7701`, '--tracker', trackerUrl, '--tracker-token', TOKENS.seeder, '-q',
    ])
    await waitLine(seeder, (l) => l.includes('listening'), 'seeder')

    // One bundle per scenario, so no scenario's peers can serve another's.
    const bundles: Record<string, { digest: string; path: string }> = {}
    const publish = async (name: string, version: string, payload: Buffer): Promise<string> => {
      const tree = join(work, `tree-${name}`)
      await mkdir(tree, { recursive: true })
      await writeFile(join(tree, 'payload.bin'), payload)
      const out = sh(process.execPath, [SHOAL, 'publish', tree, '-r', 'app', '--version', version, '--seeder', `http://${origin.ip}:7701`, '--tracker', trackerUrl, '--token', TOKENS.publisher, '--json', '-q'])
      await rm(tree, { recursive: true, force: true })
      const digest = (JSON.parse(out) as { digest: string }).digest
      bundles[name] = { digest, path: join(work, 'seeder', 'bundles', `${digest.slice(7)}.tar`) }
      log(`published ${name} bundle ${digest.slice(0, 19)}…`)
      return digest
    }
    for (const [k, name] of ONLY.entries()) {
      const payload = randomBytes(S - 4096)
      if (name === 'shoal-v2') {
        // v1 first (rolled out untimed), then v2: 5% of the payload rewritten in one range.
        await publish('shoal-v1', `${k + 1}.0.0-v1`, payload)
        randomBytes(Math.round(0.05 * S)).copy(payload, Math.round(0.4 * S))
      }
      await publish(name, `${k + 1}.0.0`, payload)
    }

    for (const scenario of ONLY) {
      const b = bundles[scenario]!
      const dirs = await Promise.all(hosts.map(async (_, k) => {
        const d = join(work, scenario, `h${k}`)
        await mkdir(d, { recursive: true })
        return d
      }))
      const done: number[] = []
      let hostBytes: number | undefined
      const cpu: number[] = new Array<number>(N).fill(0)
      let t0 = 0
      let originTx0 = txBytes(origin)
      let rackRx0 = racks.map(rackRx)
      /** Retransmitted segments everywhere; drops at the uplinks into the racks and at the hosts' download ports. */
      const netStats = (): number[] => [
        [origin, ...hosts].reduce((a, h) => a + retrans(h.ns), 0),
        racks.reduce((a, _, r) => a + drops(`${tag}r${r}`.slice(0, 15)), 0),
        hosts.reduce((a, _, k) => a + (RACKS ? drops(`${tag}h${k}`.slice(0, 15), racks[rackOf(k)]!.ns) : drops(`${tag}h${k}`.slice(0, 15))), 0),
      ]
      let net0 = netStats()
      if (scenario === 'nginx') {
        const conf = join(work, 'nginx.conf')
        await writeFile(conf, `daemon off; user root; worker_processes 1; pid ${join(work, 'nginx.pid')}; error_log stderr;\nevents {}\nhttp { access_log off; sendfile on; server { listen 8080; root ${join(work, 'seeder', 'bundles')}; } }\n`)
        const nginx = spawnIn(origin.ns, 'nginx', ['-c', conf])
        await new Promise((r) => setTimeout(r, 500)) // nginx prints nothing when ready; a bound
        void nginx
        t0 = performance.now()
        await Promise.all(hosts.map((h, k) => new Promise<void>((resolve, reject) => {
          const file = join(dirs[k]!, 'bundle.tar')
          // bash's `times` prints the children's user and system time on its second line.
          const c = spawnIn(h.ns, 'bash', ['-c', `curl -sf -o ${file} http://${origin.ip}:8080/${b.digest.slice(7)}.tar && test "$(sha256sum ${file} | cut -c1-64)" = ${b.digest.slice(7)} && times`], {
            lines: (l) => {
              const m = /^(\d+)m([\d.]+)s (\d+)m([\d.]+)s$/.exec(l)
              if (m) cpu[k] = Number(m[1]) * 60 + Number(m[2]) + Number(m[3]) * 60 + Number(m[4])
            },
          })
          c.once('exit', (code) => {
            if (code !== 0) return reject(new Error(`curl on host ${k} exited with ${code}`))
            done.push((performance.now() - t0) / 1000)
            resolve()
          })
        })))
      } else if (scenario === 'aria2c') {
        const torrent = Buffer.from((await api(trackerUrl, 'GET', `/v1/bundles/${b.digest}/torrent`, hostToken('aria2c-h0'))) as ArrayBuffer)
        await writeFile(join(work, 'aria.torrent'), torrent)
        const procs: ChildProcess[] = []
        t0 = performance.now()
        await Promise.all(hosts.map((h, k) => new Promise<void>((resolve, reject) => {
          const hook = join(dirs[k]!, 'done.sh')
          execFileSync('sh', ['-c', `printf '#!/bin/sh\\necho COMPLETE\\n' > ${hook}; chmod +x ${hook}`])
          const c = spawnIn(h.ns, 'aria2c', [
            '--dir', dirs[k]!, '--bt-tracker', `${trackerUrl}/announce/${hostToken(`aria2c-h${k}`)}`, '--enable-dht=false', '--enable-dht6=false', '--bt-enable-lpd=false',
            '--enable-peer-exchange=false', '--seed-time=600', '--listen-port=6882', '--file-allocation=none', '--summary-interval=0', '--console-log-level=warn',
            '--check-integrity=false', '--bt-hash-check-seed=false', `--on-bt-download-complete=${hook}`, '--bt-max-peers=55', join(work, 'aria.torrent'),
          ], {
            lines: (l) => {
              if (l.includes('COMPLETE') || /Seeding is over|Download complete/.test(l)) {
                if (done.length < N && !(c as ChildProcess & { finished?: boolean }).finished) {
                  ;(c as ChildProcess & { finished?: boolean }).finished = true
                  done.push((performance.now() - t0) / 1000)
                  cpu[k] = cpuSeconds(c.pid!)
                  resolve()
                }
              }
            },
          })
          procs.push(c)
          c.once('exit', (code) => reject(new Error(`aria2c on host ${k} exited early with ${code}`)))
        })))
        for (const p of procs) p.kill('SIGKILL')
      } else {
        const procs: ChildProcess[] = []
        const verified = new Set<number>()
        const viaUplink = racks.map(() => ({ other: 0, unowned: 0, origin: 0 }))
        let wasted = 0
        // Fetchers start and register first; the clock starts when the channel moves.
        await Promise.all(hosts.map(async (h, k) => {
          const c = spawnIn(h.ns, process.execPath, [
            ...(PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE}`] : []),
            SHOAL, 'fetcher', '--data-dir', dirs[k]!, '--tracker', trackerUrl, '--token', hostToken(`${scenario}-h${k}`), '--follow', 'app@prod', '--host-id', `${scenario}-h${k}`,
            '--peer-port', '6882', '--no-launch', ...(scenario === 'shoal-nolabels' ? [] : ['--label', `rack=r${RACKS > 0 ? rackOf(k) : k % 4}`]),
          ], {
            lines: (l) => {
              if (l.includes('"bundle verified"') && !verified.has(k) && t0 > 0) {
                verified.add(k)
                done.push((performance.now() - t0) / 1000)
                cpu[k] = cpuSeconds(c.pid!)
                const v = viaUplink[rackOf(k)]
                const f = /\{.*\}/.exec(l)
                const j = f ? (JSON.parse(f[0]) as { bytesFromOtherRacks?: number; bytesFromOtherRacksUnowned?: number; bytesFromOrigin?: number; bytesWasted?: number }) : {}
                wasted += j.bytesWasted ?? 0
                if (v && f) {
                  v.other += j.bytesFromOtherRacks ?? 0
                  v.unowned += j.bytesFromOtherRacksUnowned ?? 0
                  v.origin += j.bytesFromOrigin ?? 0
                }
              }
            },
          })
          procs.push(c)
          await waitLine(c, (l) => l.includes('listening'), `fetcher ${k}`)
        }))
        // Registered? (the first long-poll has answered once the host is known)
        for (let k = 0; k < N; k++) {
          for (let tries = 0; ; tries++) {
            const r = await fetch(`${trackerUrl}/v1/hosts/${scenario}-h${k}/targets`, { headers: { authorization: `Bearer ${hostToken(`${scenario}-h${k}`)}` } })
            if (r.ok) break
            if (tries > 100) throw new Error(`fetcher ${k} never registered`)
            await new Promise((res) => setTimeout(res, 100))
          }
        }
        const version = `${ONLY.indexOf(scenario) + 1}.0.0`
        if (scenario === 'shoal-v2') {
          // Every host runs v1 first; only the move to v2 is timed.
          t0 = performance.now()
          await api(trackerUrl, 'PUT', '/v1/channels/app/prod', TOKENS.publisher, { version: `${version}-v1` })
          for (const bound = t0 + Math.max(120_000, T_MIN * 20_000); verified.size < N; await new Promise((res) => setTimeout(res, 50))) {
            if (performance.now() > bound) throw new Error(`only ${verified.size} of ${N} fetchers verified v1`)
          }
          log(`shoal-v2: every host runs v1 after ${((performance.now() - t0) / 1000).toFixed(2)} s; moving to v2`)
          verified.clear()
          done.length = 0
          originTx0 = txBytes(origin)
          rackRx0 = racks.map(rackRx)
          net0 = netStats()
        }
        // The fetcher is a daemon: its start-up (0.9 CPU-s, mostly loading modules) happened
        // before the rollout, so count only what each host spends from the channel move on.
        const cpuAtStart = procs.map((p) => cpuSeconds(p.pid!))
        t0 = performance.now()
        await api(trackerUrl, 'PUT', '/v1/channels/app/prod', TOKENS.publisher, { version })
        const bound = performance.now() + Math.max(120_000, T_MIN * 20_000)
        while (verified.size < N) {
          if (performance.now() > bound) throw new Error(`only ${verified.size} of ${N} fetchers verified the bundle`)
          await new Promise((res) => setTimeout(res, 50))
        }
        procs.forEach((p, k) => (cpu[k] = cpu[k]! - (cpuAtStart[k] ?? 0)))
        let fetched = 0
        let fromOrigin = 0
        for (let k = 0; k < N; k++) {
          const id = `${scenario}-h${k}`
          const rep = (await api(trackerUrl, 'GET', `/v1/hosts/${id}/reports/${b.digest}`, hostToken(id)).catch(() => undefined)) as { bytesFromPeers: number; bytesFromOrigin: number } | undefined
          fetched += rep ? rep.bytesFromPeers + rep.bytesFromOrigin : 0
          fromOrigin += rep?.bytesFromOrigin ?? 0
        }
        hostBytes = fetched
        log(`${scenario}: hosts took ${(fromOrigin / S).toFixed(2)} S from the origin (payload; the origin's link bytes below add headers and retransmissions)`)
        log(`${scenario}: bytes wasted (arrived for pieces already stored or withdrawn): ${(wasted / S).toFixed(2)} S over all hosts`)
        // What the fetchers say crossed each uplink (pieces from other racks and the origin), and
        // how much of it they fetched for pieces they did not own (while idle): against rx_bytes
        // below, the rest is protocol, TCP and retransmissions.
        if (racks.length) log(`${scenario}: fetched into each rack, copies from other racks + origin (unowned): ${viaUplink.map((v) => `${((v.other + v.origin) / S).toFixed(2)} (${(v.unowned / S).toFixed(2)})`).join(' ')}`)
        for (const p of procs) p.kill('SIGTERM')
        await Promise.all(procs.map((p) => new Promise((res) => (p.exitCode === null ? p.once('exit', res) : res(null)))))
      }
      const originBytes = txBytes(origin) - originTx0
      done.sort((a, z) => a - z)
      const rackBytes = racks.length ? racks.map((rk, i) => rackRx(rk) - rackRx0[i]!) : undefined
      const net = netStats().map((x, i) => x - net0[i]!)
      if (process.env.SHOAL_BENCH_DEBUG) {
        const keys = ['TCPTimeouts', 'TCPLossProbes', 'TCPSpuriousRTOs', 'TCPDSACKRecv', 'TCPDSACKOldSent', 'TCPSackRecovery', 'TCPFastRetrans', 'TCPSlowStartRetrans', 'TCPLostRetransmit', 'TCPRcvQDrop', 'TCPBacklogDrop', 'TCPOFOQueue', 'TCPOFODrop', 'TCPSynRetrans', 'TCPRenoRecovery']
        racks.forEach((rk, r) => log(`rack ${r} up0 egress drops ${drops('up0', rk.ns)}`))
        for (const [name, n] of [['origin', origin] as const, ...hosts.map((h, k) => [`h${k}`, h] as const)]) {
          const t = inNs(n.ns, 'cat', ['/proc/net/netstat']).split('\n').filter((l) => l.startsWith('TcpExt:'))
          const names = t[0]!.split(/\s+/)
          const vals = t[1]!.split(/\s+/)
          log(`${name} eth0 egress drops ${drops('eth0', n.ns)} retrans ${retrans(n.ns)} ${keys.map((k) => `${k}=${vals[names.indexOf(k)]}`).join(' ')}`)
        }
      }
      log(`${scenario}: TCP retransmitted ${net[0]} segments (${((net[0]! * 1448) / S).toFixed(2)} S); tbf drops: ${net[1]} into racks, ${net[2]} at hosts' download ports`)
      const r: Result = { scenario, times: done, originBytes, cpu: cpu.reduce((a, c) => a + c, 0), hostBytes, rackBytes }
      results.push(r)
      const copies = rackBytes ? `, copies into each rack ${rackBytes.map((x) => (x / S).toFixed(2)).join(' ')}` : ''
      log(`${scenario}: last host ${done.at(-1)!.toFixed(2)} s = ${(done.at(-1)! / T_MIN).toFixed(2)}x T_min, origin ${(originBytes / S).toFixed(2)}x S, hosts ${r.cpu.toFixed(1)} CPU-s${copies}`)
      await rm(join(work, scenario), { recursive: true, force: true })
    }
  } finally {
    cleanup()
    await rm(work, { recursive: true, force: true })
  }
  report(results)
}

function report(results: Result[]): void {
  const aria = results.find((r) => r.scenario === 'aria2c')
  const rows = results.map((r) => {
    const last = r.times.at(-1)!
    return {
      scenario: r.scenario,
      'p50 s': r.times[Math.floor((r.times.length - 1) / 2)]!.toFixed(2),
      'last s': last.toFixed(2),
      'last/T_min': (last / T_MIN).toFixed(2),
      'origin/S': (r.originBytes / S).toFixed(2),
      'host CPU-s': r.cpu.toFixed(1),
      'CPU vs aria2c': aria && aria.cpu > 0 ? (r.cpu / aria.cpu).toFixed(2) : '-',
      'hosts fetched/(N*S)': r.hostBytes === undefined ? '-' : (r.hostBytes / (N * S)).toFixed(3),
      ...(r.rackBytes ? { 'copies into a rack (max)': (Math.max(...r.rackBytes) / S).toFixed(2), 'copies into a rack (mean)': (r.rackBytes.reduce((a, x) => a + x, 0) / r.rackBytes.length / S).toFixed(2) } : {}),
    }
  })
  const racked = RACKS > 0 ? ` racks=${RACKS} uplink=${UPLINK_MBIT} Mbit/s` : ''
  process.stdout.write(`\nbench:fleet N=${N} S=${S / 2 ** 20} MiB u=${RATE_MBIT} Mbit/s${racked} T_min=${T_MIN.toFixed(2)} s\n`)
  console.table(rows)
  void writeChart(results)
}

/** A completion-time CDF (hosts done over time) as SVG, one line per scenario. */
async function writeChart(results: Result[]): Promise<void> {
  const W = 640
  const H = 360
  const pad = 50
  const tMax = Math.max(...results.map((r) => r.times.at(-1)!)) * 1.05
  const x = (t: number): number => pad + ((W - 2 * pad) * t) / tMax
  const y = (f: number): number => H - pad - (H - 2 * pad) * f
  const colours: Record<string, string> = { shoal: '#1f77b4', aria2c: '#ff7f0e', nginx: '#2ca02c', 'shoal-v2': '#9467bd', 'shoal-nolabels': '#8c564b' }
  const lines = results.map((r) => {
    const pts = [`${x(0)},${y(0)}`]
    r.times.forEach((t, i) => pts.push(`${x(t)},${y(i / r.times.length)}`, `${x(t)},${y((i + 1) / r.times.length)}`))
    return `<polyline fill="none" stroke="${colours[r.scenario] ?? '#000'}" stroke-width="2" points="${pts.join(' ')}"/>`
  })
  const legend = results.map((r, i) => `<text x="${W - pad - 110}" y="${pad + 16 * i}" fill="${colours[r.scenario] ?? '#000'}" font-size="13">${r.scenario}: ${r.times.at(-1)!.toFixed(1)} s</text>`)
  const ticks = Array.from({ length: 6 }, (_, i) => (tMax * i) / 5).map((t) => `<text x="${x(t)}" y="${H - pad + 18}" font-size="11" text-anchor="middle">${t.toFixed(0)}</text>`)
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
<text x="${pad}" y="20" font-size="14">Hosts holding the verified bundle (N=${N}, S=${S / 2 ** 20} MiB, ${RATE_MBIT} Mbit/s, T_min=${T_MIN.toFixed(1)} s)</text>
<line x1="${pad}" y1="${y(0)}" x2="${W - pad}" y2="${y(0)}" stroke="#888"/><line x1="${pad}" y1="${y(0)}" x2="${pad}" y2="${y(1)}" stroke="#888"/>
<line x1="${x(T_MIN)}" y1="${y(0)}" x2="${x(T_MIN)}" y2="${y(1)}" stroke="#aaa" stroke-dasharray="4 3"/><text x="${x(T_MIN) + 3}" y="${y(1) + 12}" font-size="11" fill="#666">T_min</text>
<text x="${W / 2}" y="${H - 12}" font-size="12" text-anchor="middle">seconds since the rollout started</text>
<text x="14" y="${H / 2}" font-size="12" transform="rotate(-90 14 ${H / 2})" text-anchor="middle">fraction of hosts</text>
${ticks.join('\n')}
${lines.join('\n')}
${legend.join('\n')}
</svg>
`
  const out = join(ROOT, 'bench', 'results')
  await mkdir(out, { recursive: true })
  const file = join(out, `fleet-n${N}-s${S / 2 ** 20}m-${RATE_MBIT}mbit${RACKS > 0 ? `-r${RACKS}` : ''}.svg`)
  await writeFile(file, svg)
  process.stdout.write(`CDF chart: ${file}\n`)
}

main().catch((err: unknown) => {
  cleanup()
  process.stderr.write(`bench:fleet failed: ${(err as Error).stack ?? String(err)}\n`)
  process.exit(1)
})
