/**
 * bench:wire — the peer wire at full speed on loopback (issue 18): one `shoal seeder`, and
 * downloaders of the same bundle over the peer wire only, no rate limits:
 *   shoal   `shoal fetcher --no-launch`: from the channel move until its log says "bundle
 *           verified" (long-poll answer, torrent fetch, announce, every piece's SHA-1, the whole
 *           file's sha256, the move into the cache); its CPU counted from the move
 *   aria2c  aria2c 1.36 on the registry's .torrent with its url-list removed (no web seed): from
 *           its start until its completion hook runs (piece SHA-1 only; no whole-file digest)
 * Each scenario gets its own bundle of S random bytes (so the seeder's page cache is as warm for
 * each), first with one downloader, then with `--fanout` downloaders at once. Per scenario: MiB/s
 * (S / time, averaged over downloaders), CPU-seconds per GiB of each downloader and of the seeder
 * (its CPU over the same interval, per GiB it served), and each downloader's peak RSS (VmHWM); for
 * Shoal also what each fetcher received and sent over the wire once all were done, in S (from its
 * /metrics: received above 1.0 is duplicates, sent is what it served the other downloaders).
 *
 *   npm run bench:wire -- [--size-mib 1024] [--fanout 4] [--runs 1] [--only shoal,aria2c] [--profile DIR]
 *   (--profile: the fetchers and the seeder write V8 CPU profiles there, --cpu-prof)
 *
 * Needs aria2c for its rows (Debian aria2). Everything it starts and writes is removed on exit.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import bencode from 'bencode'
import { deriveHostToken } from '../src/core/tokens.js'
import { benchOption } from './bench-args.js'
import { api, cpuSeconds, peakRssMiB, waitLine } from './processes.js'
import { metricValue } from '../test/helpers/metrics.js'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const SHOAL = join(ROOT, 'bin', 'shoal.js')
const S = Number(benchOption('size-mib', '1024')) * 2 ** 20
const FANOUT = Number(benchOption('fanout', '4'))
const RUNS = Number(benchOption('runs', '1'))
const ONLY = benchOption('only', 'shoal,aria2c').split(',')
/** A directory for V8 CPU profiles of the fetchers and the seeder (node --cpu-prof). */
const PROFILE = benchOption('profile', '')
const prof = (name: string): string[] => (PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE}`, `--cpu-prof-name=${name}-${process.pid}-${Date.now()}.cpuprofile`] : [])
const GiB = 2 ** 30
const TOKENS = { publisher: randomBytes(12).toString('hex'), seeder: randomBytes(12).toString('hex'), hostKey: randomBytes(24).toString('hex') }
const hostToken = (id: string): string => deriveHostToken(TOKENS.hostKey, id)
const log = (msg: string): void => void process.stderr.write(`[wire] ${msg}\n`)
const children: ChildProcess[] = []

function start(cmd: string, args: string[], lines?: (l: string) => void): ChildProcess {
  const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  children.push(c)
  for (const s of [c.stdout!, c.stderr!]) {
    if (lines) createInterface({ input: s }).on('line', lines)
    else s.resume()
  }
  return c
}

interface Row {
  client: string
  downloaders: number
  run: number
  seconds: number[]
  cpu: number[]
  rss: number[]
  seederCpu: number
  /** Shoal only: each fetcher's bytes received and sent over the peer wire, once all were done. */
  down?: number[]
  up?: number[]
}

/** Waits until a process has used under 20 ms of CPU in 500 ms (the seeder done with an upload's hashing), at most 30 s. */
async function quiet(pid: number): Promise<void> {
  for (const until = performance.now() + 30_000; performance.now() < until; ) {
    const before = cpuSeconds(pid)
    await new Promise((r) => setTimeout(r, 500))
    if (cpuSeconds(pid) - before < 0.02) return
  }
}

/** SIGTERM when profiling (a profile is written at a clean exit), bounded by 20 s; SIGKILL otherwise and after. */
async function stopAll(list: ChildProcess[]): Promise<void> {
  await Promise.all(list.map((c) => new Promise<void>((resolve) => {
    if (c.exitCode !== null || c.signalCode !== null) return resolve()
    const timer = setTimeout(() => c.kill('SIGKILL'), PROFILE ? 20_000 : 0)
    c.once('exit', () => {
      clearTimeout(timer)
      resolve()
    })
    c.kill(PROFILE ? 'SIGTERM' : 'SIGKILL')
  })))
}

async function writeRandom(path: string, size: number): Promise<void> {
  const out = createWriteStream(path)
  for (let left = size; left > 0; left -= 1 << 20) {
    if (!out.write(randomBytes(Math.min(left, 1 << 20)))) await new Promise<void>((r) => void out.once('drain', () => r()))
  }
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())))
}

async function main(): Promise<void> {
  if (ONLY.includes('aria2c')) {
    try {
      execFileSync('sh', ['-c', 'command -v aria2c'], { stdio: 'ignore' })
    } catch {
      throw new Error('bench:wire needs aria2c for its aria2c rows (apt-get install aria2), or --only shoal')
    }
  }
  const work = await mkdtemp(join(tmpdir(), 'shoal-wire-'))
  const rows: Row[] = []
  try {
    await writeFile(join(work, 'tokens'), `publisher ${TOKENS.publisher}\nseeder ${TOKENS.seeder}\nhost-key ${TOKENS.hostKey}\n`)
    const tracker = start(process.execPath, [SHOAL, 'tracker', '--data-dir', join(work, 'tracker'), '--tokens', join(work, 'tokens'), '--host', '127.0.0.1', '--port', '0', '-q'])
    const trackerUrl = (JSON.parse(await waitLine(tracker, (l) => l.includes('listening'), 'tracker')) as { listening: string }).listening
    const seeder = start(process.execPath, [...prof('seeder'), SHOAL, 'seeder', '--data-dir', join(work, 'seeder'), '--tokens', join(work, 'tokens'), '--host', '127.0.0.1', '--port', '0', '--peer-port', '0', '--tracker', trackerUrl, '--tracker-token', TOKENS.seeder, '-q'])
    const seederUrl = (JSON.parse(await waitLine(seeder, (l) => l.includes('listening'), 'seeder')) as { listening: string }).listening
    log(`tracker ${trackerUrl}, seeder ${seederUrl}; S = ${S / 2 ** 20} MiB, fan-out ${FANOUT}, ${RUNS} run(s)`)
    let version = 0

    const publish = async (): Promise<string> => {
      const tree = join(work, `tree-${++version}`)
      await mkdir(tree, { recursive: true })
      await writeRandom(join(tree, 'payload.bin'), S - 4096)
      const out = execFileSync(process.execPath, [SHOAL, 'publish', tree, '-r', 'app', '--version', `${version}.0.0`, '--seeder', seederUrl, '--tracker', trackerUrl, '--token', TOKENS.publisher, '--json', '-q'], { encoding: 'utf8' })
      await rm(tree, { recursive: true, force: true })
      return (JSON.parse(out) as { digest: string }).digest
    }

    for (let run = 1; run <= RUNS; run++) {
      for (const n of [1, FANOUT]) {
        for (const client of ONLY) {
          const digest = await publish()
          await quiet(seeder.pid!) // the seeder's CPU below is what serving costs, nothing left from the upload
          const dirs = await Promise.all(Array.from({ length: n }, async (_, k) => {
            const d = join(work, `${client}-${run}-${n}-${k}`)
            await mkdir(d, { recursive: true })
            return d
          }))
          const seconds: number[] = []
          const cpu: number[] = []
          const rss: number[] = []
          let seederCpu0 = 0
          let t0 = 0
          let down: number[] | undefined
          let up: number[] | undefined
          if (client === 'aria2c') {
            // The registry's torrent without its web seeds: every byte over the peer wire.
            const t = bencode.decode(Buffer.from((await api(trackerUrl, 'GET', `/v1/bundles/${digest}/torrent`, hostToken('aria2c'))) as ArrayBuffer)) as Record<string, unknown>
            delete t['url-list']
            const torrent = join(work, `aria-${version}.torrent`)
            await writeFile(torrent, bencode.encode(t))
            seederCpu0 = cpuSeconds(seeder.pid!)
            t0 = performance.now()
            await Promise.all(dirs.map((dir, k) => new Promise<void>((resolve, reject) => {
              const hook = join(dir, 'done.sh')
              execFileSync('sh', ['-c', `printf '#!/bin/sh\\necho COMPLETE\\n' > ${hook}; chmod +x ${hook}`])
              let finished = false
              const c = start('aria2c', [
                '--dir', dir, '--bt-tracker', `${trackerUrl}/announce/${hostToken(`aria2c-${k}`)}`, '--enable-dht=false', '--enable-dht6=false', '--bt-enable-lpd=false',
                '--enable-peer-exchange=false', '--seed-time=600', `--listen-port=${7000 + k}`, '--file-allocation=none', '--summary-interval=0', '--console-log-level=warn',
                '--check-integrity=false', '--bt-hash-check-seed=false', `--on-bt-download-complete=${hook}`, torrent,
              ], (l) => {
                if (!finished && l.includes('COMPLETE')) {
                  finished = true
                  seconds[k] = (performance.now() - t0) / 1000
                  cpu[k] = cpuSeconds(c.pid!)
                  rss[k] = peakRssMiB(c.pid!)
                  resolve()
                }
              })
              c.once('exit', (code) => (finished ? undefined : reject(new Error(`aria2c ${k} exited early with ${code}`))))
            })))
          } else {
            const procs: ChildProcess[] = []
            const metrics: string[] = []
            const done = new Set<number>()
            await Promise.all(dirs.map(async (dir, k) => {
              const id = `${client}-${version}-${n}-${k}`
              const c = start(process.execPath, [...prof(`fetcher-${k}`), SHOAL, 'fetcher', '--data-dir', dir, '--tracker', trackerUrl, '--token', hostToken(id), '--follow', `app@w${version}x${n}`, '--host-id', id, '--peer-port', '0', '--listen-host', '127.0.0.1', '--no-launch', '--metrics-port', '0'], (l) => {
                if (t0 > 0 && !done.has(k) && l.includes('"bundle verified"')) {
                  if (process.env.SHOAL_BENCH_DEBUG) log(l)
                  done.add(k)
                  seconds[k] = (performance.now() - t0) / 1000
                  cpu[k] = cpuSeconds(c.pid!) - cpu[k]!
                  rss[k] = peakRssMiB(c.pid!)
                }
              })
              procs[k] = c
              metrics[k] = (JSON.parse(await waitLine(c, (l) => l.includes('listening'), `fetcher ${k}`)) as { metrics: string }).metrics
              for (let tries = 0; ; tries++) {
                const r = await fetch(`${trackerUrl}/v1/hosts/${id}/targets`, { headers: { authorization: `Bearer ${hostToken(id)}` } })
                if (r.ok) break
                if (tries > 200) throw new Error(`fetcher ${k} never registered`)
                await new Promise((res) => setTimeout(res, 50))
              }
            }))
            // A daemon's start-up (module loading) is not part of the transfer: CPU counts from the move.
            procs.forEach((p, k) => (cpu[k] = cpuSeconds(p.pid!)))
            seederCpu0 = cpuSeconds(seeder.pid!)
            t0 = performance.now()
            await api(trackerUrl, 'PUT', `/v1/channels/app/w${version}x${n}`, TOKENS.publisher, { version: `${version}.0.0` })
            const bound = performance.now() + 600_000
            while (done.size < n) {
              if (performance.now() > bound) throw new Error(`only ${done.size} of ${n} fetchers verified the bundle`)
              await new Promise((res) => setTimeout(res, 20))
            }
            // What moved over the wire: a fetcher's duplicates (end game) and what it served its peers.
            const texts = await Promise.all(metrics.map(async (u) => await (await fetch(u)).text()))
            down = texts.map((t) => metricValue(t, 'shoal_fetcher_downloaded_bytes_total'))
            up = texts.map((t) => metricValue(t, 'shoal_fetcher_uploaded_bytes_total'))
          }
          const seederCpu = cpuSeconds(seeder.pid!) - seederCpu0
          await stopAll(children.splice(2))
          await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })))
          const row: Row = { client, downloaders: n, run, seconds, cpu, rss, seederCpu, down, up }
          rows.push(row)
          const mibs = seconds.map((s) => S / 2 ** 20 / s)
          log(`${client} x${n} run ${run}: ${mibs.map((m) => m.toFixed(0)).join(', ')} MiB/s; CPU/GiB ${cpu.map((c) => (c / (S / GiB)).toFixed(2)).join(', ')}; seeder ${(seederCpu / ((n * S) / GiB)).toFixed(2)} CPU-s/GiB; peak RSS ${rss.map((r) => r.toFixed(0)).join(', ')} MiB${down && up ? `; received ${down.map((b) => (b / S).toFixed(2)).join(', ')} S, sent ${up.map((b) => (b / S).toFixed(2)).join(', ')} S` : ''}`)
        }
      }
    }
  } finally {
    await stopAll(children.splice(0))
    await rm(work, { recursive: true, force: true })
  }
  report(rows)
}

function report(rows: Row[]): void {
  const avg = (xs: number[]): number => xs.reduce((a, x) => a + x, 0) / xs.length
  const base = (n: number, run: number): Row | undefined => rows.find((r) => r.client === 'aria2c' && r.downloaders === n && r.run === run)
  console.table(
    rows.map((r) => {
      const mibs = avg(r.seconds.map((s) => S / 2 ** 20 / s))
      const cpuGiB = avg(r.cpu) / (S / GiB)
      const seederGiB = r.seederCpu / ((r.downloaders * S) / GiB)
      const b = base(r.downloaders, r.run)
      const bMibs = b ? avg(b.seconds.map((s) => S / 2 ** 20 / s)) : undefined
      return {
        client: r.client,
        downloaders: r.downloaders,
        run: r.run,
        'MiB/s (each)': mibs.toFixed(0),
        'vs aria2c': bMibs ? (mibs / bMibs).toFixed(2) : '-',
        'downloader CPU-s/GiB': cpuGiB.toFixed(2),
        'vs aria2c ': b ? (cpuGiB / (avg(b.cpu) / (S / GiB))).toFixed(2) : '-',
        'seeder CPU-s/GiB served': seederGiB.toFixed(2),
        'vs aria2c  ': b ? (seederGiB / (b.seederCpu / ((b.downloaders * S) / GiB))).toFixed(2) : '-',
        'peak RSS MiB': Math.max(...r.rss).toFixed(0),
        'received / sent (S)': r.down && r.up ? `${(avg(r.down) / S).toFixed(2)} / ${(avg(r.up) / S).toFixed(2)}` : '-',
      }
    }),
  )
}

main().catch((err: unknown) => {
  for (const c of children.splice(0)) c.kill('SIGKILL')
  console.error(err)
  process.exit(1)
})
