/**
 * bench:incremental — incremental releases (issue 15): a host that runs v1 fetches only what
 * changed in v2. Real processes on loopback: one `shoal tracker`, one `shoal seeder`, and
 * `shoal fetcher --no-launch` hosts with a download limit (`--rate-mbit`, default 1000); with
 * `--launch`, hosts install and activate each version too (dir snapshotter, `--agent none`), so
 * "running" includes verifying and unpacking the bundle into an image.
 *
 *   v1  a tree of S MiB of mixed files (bench/make-tree: many small, some medium, a few large)
 *   v2  v1 with about 5% of its bytes new: medium files rewritten, bytes inserted into the middle
 *       of a large file, files added; some files removed and one large file renamed (no new bytes)
 *   v3  v2 with one small file changed (a release with next to nothing new: the fixed cost)
 *
 * Per run, on a fresh host: v1 (nothing held), then v2, then v3, each timed from the channel move
 * to the host's "target running" log line, with its bytes over the network (its report: from peers
 * + from the origin, the manifest read included) and bytes derived locally; then a second fresh
 * host fetches v2 with nothing held (the baseline, same run). Figures:
 *   network / changed   bytes the incremental host fetched for v2 / new content in v2 (target <= 1.1)
 *   T(v2) / T(full v2)  against the fresh host's time for the same bundle
 *   proportional bound  2 x (changed / S) x T(full v2) + T(v3) (the target: T(v2) within it)
 *
 *   npm run bench:incremental -- [--size-mib 256] [--rate-mbit 1000] [--runs 2] [--launch]
 *
 * Everything it starts and writes is removed on exit.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { cpSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { deriveHostToken } from '../src/core/tokens.js'
import { benchOption } from './bench-args.js'
import { makeTree } from './make-tree.js'
import { api, waitLine } from './processes.js'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const SHOAL = join(ROOT, 'bin', 'shoal.js')
const S = Number(benchOption('size-mib', '256')) * 2 ** 20
const RATE_MBIT = Number(benchOption('rate-mbit', '1000'))
const RUNS = Number(benchOption('runs', '2'))
const LAUNCH = process.argv.includes('--launch')
const MiB = 2 ** 20
const TOKENS = { publisher: randomBytes(12).toString('hex'), seeder: randomBytes(12).toString('hex'), hostKey: randomBytes(24).toString('hex') }
const hostToken = (id: string): string => deriveHostToken(TOKENS.hostKey, id)
const log = (msg: string): void => void process.stderr.write(`[incremental] ${msg}\n`)
const children: ChildProcess[] = []

function start(args: string[], lines?: (l: string) => void): ChildProcess {
  const c = spawn(process.execPath, [SHOAL, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  children.push(c)
  // Daemons log JSON lines to stderr: passed to `lines`, and shown when they are not info.
  createInterface({ input: c.stderr! }).on('line', (l) => {
    lines?.(l)
    if (!l.includes('"level":"info"')) log(`${args[0]}: ${l}`)
  })
  return c
}

/** Every file under root, relative, sorted (so the edits below are the same each run). */
function files(root: string, rel = ''): string[] {
  const out: string[] = []
  for (const name of readdirSync(join(root, rel)).sort()) {
    const p = rel ? `${rel}/${name}` : name
    if (statSync(join(root, p)).isDirectory()) out.push(...files(root, p))
    else out.push(p)
  }
  return out
}

/** v2 from a copy of v1: about 5% of the bytes new; returns the bytes of new content. */
function makeV2(v2: string): number {
  const all = files(v2).map((p) => ({ p, size: statSync(join(v2, p)).size }))
  const medium = all.filter((f) => f.size >= 256 << 10 && f.size < 4 << 20)
  const large = [...all].sort((x, y) => y.size - x.size).slice(0, 2)
  const small = all.filter((f) => f.size < 64 << 10)
  const budget = 0.05 * S
  let changed = 0
  // Bytes inserted into the middle of a large file (1% of S).
  const big = large[0]!
  const inserted = randomBytes(Math.round(0.01 * S))
  const data = readFileSync(join(v2, big.p))
  writeFileSync(join(v2, big.p), Buffer.concat([data.subarray(0, data.length >> 1), inserted, data.subarray(data.length >> 1)]))
  changed += inserted.length
  // One large file renamed (moved to another directory): no new bytes.
  const moved = large[1] ?? large[0]!
  if (moved !== big) {
    mkdirSync(join(v2, 'renamed'), { recursive: true })
    renameSync(join(v2, moved.p), join(v2, 'renamed', moved.p.replaceAll('/', '-')))
  }
  // Some small files removed.
  for (const f of small.slice(0, 20)) rmSync(join(v2, f.p))
  // Files added (1% of S).
  for (let k = 0; k < 4; k++) {
    const p = join(v2, 'added', `new-${k}.bin`)
    mkdirSync(dirname(p), { recursive: true })
    writeFileSync(p, randomBytes(Math.round(0.0025 * S)))
    changed += Math.round(0.0025 * S)
  }
  // Medium files rewritten until about 5% is new.
  for (const f of medium) {
    if (changed + f.size > budget) continue
    writeFileSync(join(v2, f.p), randomBytes(f.size))
    changed += f.size
  }
  return changed
}

interface Step {
  seconds: number
  network: number
  derived: number
}

async function main(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'shoal-incremental-'))
  const rows: Array<{ run: number; changed: number; v1: Step; v2: Step; v3: Step; full: Step }> = []
  try {
    await writeFile(join(work, 'tokens'), `publisher ${TOKENS.publisher}\nseeder ${TOKENS.seeder}\nhost-key ${TOKENS.hostKey}\n`)
    const tracker = start(['tracker', '--data-dir', join(work, 'tracker'), '--tokens', join(work, 'tokens'), '--host', '127.0.0.1', '--port', '0', '-q'])
    const trackerUrl = (JSON.parse(await waitLine(tracker, (l) => l.includes('listening'), 'tracker')) as { listening: string }).listening
    const seeder = start(['seeder', '--data-dir', join(work, 'seeder'), '--tokens', join(work, 'tokens'), '--host', '127.0.0.1', '--port', '0', '--peer-port', '0', '--tracker', trackerUrl, '--tracker-token', TOKENS.seeder, '-q'])
    const seederUrl = (JSON.parse(await waitLine(seeder, (l) => l.includes('listening'), 'seeder')) as { listening: string }).listening
    log(`tracker ${trackerUrl}, seeder ${seederUrl}; S = ${S / MiB} MiB, hosts at ${RATE_MBIT} Mbit/s, ${RUNS} run(s), ${LAUNCH ? 'with the launcher (dir, --agent none)' : '--no-launch'}`)

    for (let run = 1; run <= RUNS; run++) {
      const v1 = join(work, 'v1')
      const v2 = join(work, 'v2')
      const v3 = join(work, 'v3')
      makeTree(v1, S)
      cpSync(v1, v2, { recursive: true })
      const changed = makeV2(v2)
      cpSync(v2, v3, { recursive: true })
      const firstSmall = files(v3).find((p) => statSync(join(v3, p)).size < 64 << 10)!
      writeFileSync(join(v3, firstSmall), randomBytes(4096))
      const versions = [`${run}.1`, `${run}.2`, `${run}.3`]
      const digests: string[] = []
      for (const [k, tree] of [v1, v2, v3].entries()) {
        const out = execFileSync(process.execPath, [SHOAL, 'publish', tree, '-r', 'app', '--version', versions[k]!, '--seeder', seederUrl, '--tracker', trackerUrl, '--token', TOKENS.publisher, '--json', '-q'], { encoding: 'utf8' })
        digests.push((JSON.parse(out) as { digest: string }).digest)
      }
      for (const tree of [v1, v2, v3]) await rm(tree, { recursive: true, force: true })
      log(`run ${run}: v2 has ${(changed / MiB).toFixed(1)} MiB of new content (${((changed / S) * 100).toFixed(1)}% of S)`)

      /** A host following app@channel; `step` moves the channel and times it to running. */
      const host = async (id: string, channel: string): Promise<{ step: (version: string, digest: string) => Promise<Step>; stop: () => void }> => {
        const waiting = new Map<string, () => void>()
        const c = start(['fetcher', '--data-dir', join(work, id), '--tracker', trackerUrl, '--token', hostToken(id), '--follow', `app@${channel}`, '--host-id', id, '--peer-port', '0', '--listen-host', '127.0.0.1', ...(LAUNCH ? ['--agent', 'none', '--snapshotter', 'dir'] : ['--no-launch']), '--down-limit', `${RATE_MBIT}mbit`], (l) => {
          if (!l.includes('"target running"')) return
          for (const [digest, done] of waiting) if (l.includes(digest)) done()
        })
        await waitLine(c, (l) => l.includes('listening'), `fetcher ${id}`)
        return {
          async step(version, digest) {
            const running = new Promise<void>((resolve, reject) => {
              const timer = setTimeout(() => reject(new Error(`${id}: ${version} not running within 10 min`)), 600_000)
              c.once('exit', (code) => reject(new Error(`fetcher ${id} exited with ${code}`)))
              waiting.set(digest, () => {
                clearTimeout(timer)
                resolve()
              })
            })
            const t0 = performance.now()
            await api(trackerUrl, 'PUT', `/v1/channels/app/${channel}`, TOKENS.publisher, { version })
            await running
            const seconds = (performance.now() - t0) / 1000
            // The host's own figures, once its `running` report has reached the tracker (at most 10 s after the log line).
            type Report = { state: string; bytesFromPeers: number; bytesFromOrigin: number; bytesDerived?: number }
            let r: Report | undefined
            for (const until = performance.now() + 10_000; r?.state !== 'running'; await new Promise((res) => setTimeout(res, 50))) {
              if (performance.now() > until) throw new Error(`${id}: no running report for ${version}`)
              r = (await api(trackerUrl, 'GET', `/v1/hosts/${id}/reports/${digest}`, hostToken(id)).catch(() => undefined)) as Report | undefined
            }
            const s: Step = { seconds, network: r.bytesFromPeers + r.bytesFromOrigin, derived: r.bytesDerived ?? 0 }
            log(`${id} ${version}: ${seconds.toFixed(2)} s, ${(s.network / MiB).toFixed(1)} MiB over the network, ${(s.derived / MiB).toFixed(1)} MiB derived`)
            return s
          },
          stop: () => void c.kill('SIGKILL'),
        }
      }
      const a = await host(`inc-${run}`, `inc${run}`)
      const s1 = await a.step(versions[0]!, digests[0]!)
      const s2 = await a.step(versions[1]!, digests[1]!)
      const s3 = await a.step(versions[2]!, digests[2]!)
      a.stop()
      const b = await host(`full-${run}`, `full${run}`)
      const full = await b.step(versions[1]!, digests[1]!)
      b.stop()
      rows.push({ run, changed, v1: s1, v2: s2, v3: s3, full })
    }
  } finally {
    for (const c of children) c.kill('SIGKILL')
    await rm(work, { recursive: true, force: true })
  }
  report(rows)
}

function report(rows: Array<{ run: number; changed: number; v1: Step; v2: Step; v3: Step; full: Step }>): void {
  console.table(
    rows.map((r) => {
      const bound = 2 * (r.changed / S) * r.full.seconds + r.v3.seconds
      return {
        run: r.run,
        'changed MiB': +(r.changed / MiB).toFixed(1),
        'v2 network MiB': +(r.v2.network / MiB).toFixed(1),
        'network / changed': +(r.v2.network / r.changed).toFixed(3),
        'v2 derived MiB': +(r.v2.derived / MiB).toFixed(1),
        'T v1 s': +r.v1.seconds.toFixed(2),
        'T v2 s': +r.v2.seconds.toFixed(2),
        'T full v2 s': +r.full.seconds.toFixed(2),
        'T v2 / T full': +(r.v2.seconds / r.full.seconds).toFixed(3),
        'T v3 (fixed) s': +r.v3.seconds.toFixed(2),
        'bound s': +bound.toFixed(2),
        'T v2 / bound': +(r.v2.seconds / bound).toFixed(3),
        'full network MiB': +(r.full.network / MiB).toFixed(1),
      }
    }),
  )
  const range = (xs: number[]): string => `${Math.min(...xs).toFixed(3)}-${Math.max(...xs).toFixed(3)}`
  console.log(`network / changed ${range(rows.map((r) => r.v2.network / r.changed))} (target <= 1.1)`)
  console.log(`T v2 / (2 x changed share x T full + T v3) ${range(rows.map((r) => r.v2.seconds / (2 * (r.changed / S) * r.full.seconds + r.v3.seconds)))} (target <= 1)`)
}

main().catch((err: unknown) => {
  console.error(err)
  for (const c of children) c.kill('SIGKILL')
  process.exit(1)
})
