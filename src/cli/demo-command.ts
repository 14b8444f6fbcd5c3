import { randomBytes } from 'node:crypto'
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Transform } from 'node:stream'
import { fileURLToPath } from 'node:url'
import type { Command } from 'commander'
import { AbortedError, createApiClient, createSeederApi, createTrackerApi, deriveHostToken, parseTokens, RolloutFailedError, type RolloutGates, type RolloutStatus, type TrackerApi } from '../core/index.js'
import { freePort } from './free-port.js'
import { untilSignal, usage, type CliIo } from './cli-context.js'

const HELLO_APP = fileURLToPath(new URL('../../fixtures/hello-app', import.meta.url))

interface DemoOptions {
  hosts: string
  racks: string
  sizeMib: string
  exit?: boolean
  timeout: string
}

/** A loopback port nothing listens on now (for a host's app). */
/** What a host's app serves on / (its version), or null when it does not answer. */
async function serving(port: number): Promise<string | null> {
  try {
    const r = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(1_000) })
    return r.ok ? (await r.text()).trim() : null
  } catch {
    return null
  }
}

/** Prefixes every line a host's app prints with the host's name. */
function prefixed(prefix: string, out: NodeJS.WritableStream): Transform {
  let partial = ''
  const t = new Transform({
    transform(chunk: Buffer, _e, cb) {
      const lines = (partial + chunk.toString()).split('\n')
      partial = lines.pop()!
      for (const l of lines) out.write(`${prefix}${l}\n`)
      cb()
    },
  })
  return t
}

export function registerDemo(program: Command, io: CliIo): void {
  program
    .command('demo')
    .description('Start a tracker, a seeder and hosts in racks on localhost; roll fixtures/hello-app out in waves by rack, then a version that fails its health check, which halts in its first wave and rolls back on its own')
    .option('--hosts <n>', 'number of hosts', '6')
    .option('--racks <n>', 'racks the hosts are spread over (label rack=rK)', '3')
    .option('--size-mib <n>', 'random payload added to the app, so that peers carry most bytes', '16')
    .option('--exit', 'exit once the demo has run (default when stdin is not a terminal)')
    .option('--timeout <seconds>', 'give up (exit 1) if a rollout is not done by then', '120')
    .action(async (opts: DemoOptions) => {
      const n = Number(opts.hosts)
      const racks = Math.min(Number(opts.racks), n)
      const sizeMib = Number(opts.sizeMib)
      if (!Number.isInteger(n) || n < 1 || n > 50) throw usage(`Cannot run the demo: --hosts must be 1..50 (current value is ${opts.hosts})`)
      if (!Number.isInteger(racks) || racks < 1) throw usage(`Cannot run the demo: --racks must be 1 or more (current value is ${opts.racks})`)
      if (!Number.isInteger(sizeMib) || sizeMib < 0 || sizeMib > 1024) throw usage(`Cannot run the demo: --size-mib must be 0..1024 (current value is ${opts.sizeMib})`)
      const exitWhenDone = opts.exit === true || !process.stdin.isTTY
      const say = (line: string): void => void io.stderr.write(`${line}\n`)
      const work = await mkdtemp(join(tmpdir(), 'shoal-demo-'))
      const tok = { publisher: randomBytes(16).toString('hex'), seeder: randomBytes(16).toString('hex'), hostKey: randomBytes(32).toString('hex'), viewer: randomBytes(16).toString('hex') }
      // Each host has its own token, derived from the fleet's host key (a host token acts for its host only).
      const tokens = parseTokens(`publisher ${tok.publisher} demo-ci\nseeder ${tok.seeder} origin\nhost-key ${tok.hostKey} hosts\nviewer ${tok.viewer} you\n`)
      await writeFile(join(work, 'viewer-token'), `${tok.viewer}\n`)
      const stops: (() => Promise<void>)[] = []
      const stopAll = async (): Promise<void> => {
        for (const s of stops.splice(0).reverse()) await s().catch(() => {})
        await rm(work, { recursive: true, force: true })
      }
      try {
        const [{ createTracker }, { createSeeder, publishBundle }, { createFetcher }, { createHandOff, createProcessAgent }] = await Promise.all([
          import('../tracker/index.js'),
          import('../seeder/index.js'),
          import('../fetcher/index.js'),
          import('../launcher/index.js'),
        ])
        const tracker = createTracker({ dataDir: join(work, 'tracker'), tokens, port: 0 })
        const { url: trackerUrl } = await tracker.start()
        stops.push(() => tracker.stop())
        say(`tracker   ${trackerUrl}`)
        const seeder = createSeeder({ dataDir: join(work, 'seeder'), tokens, port: 0, peerPort: 0, tracker: { url: trackerUrl, token: tok.seeder }, sweepIntervalMs: 0 })
        const { url: seederUrl, peerPort } = await seeder.start()
        stops.push(() => seeder.stop())
        say(`seeder    ${seederUrl} (peers on port ${peerPort})`)
        const ports: number[] = []
        for (let k = 0; k < n; k++) {
          const root = join(work, `host-${k}`, 'launcher')
          ports[k] = await freePort()
          const agent = createProcessAgent({ stdout: prefixed(`[host-${k}] `, io.stdout), stderr: prefixed(`[host-${k}] `, io.stderr), env: { ...io.env, APP_PORT: String(ports[k]) } })
          const handOff = createHandOff({ root, snapshotter: 'dir', agent })
          const f = createFetcher({
            dataDir: join(work, `host-${k}`),
            tracker: { url: trackerUrl, token: deriveHostToken(tok.hostKey, `host-${k}`) },
            hostId: `host-${k}`,
            follows: ['hello@prod'],
            labels: { rack: `r${k % racks}` },
            peerPort: 0,
            listenHost: '127.0.0.1',
            handOff,
          })
          const { peerPort: p } = await f.start()
          stops.push(async () => {
            await f.stop()
            await handOff.stopAll()
          })
          say(`host-${k}    rack r${k % racks}, following hello@prod (peers on port ${p}, app on port ${ports[k]})`)
        }

        const api = (token: string, server: 'tracker' | 'seeder', url: string) => createApiClient({ url, token, server })
        const viewer = createTrackerApi(api(tok.viewer, 'tracker', trackerUrl), tok.viewer)
        const publisher = createTrackerApi(api(tok.publisher, 'tracker', trackerUrl), tok.publisher)
        // The app with a random payload, so that the bundle is large enough for peers to carry most bytes.
        const build = async (version: string, healthy: boolean): Promise<string> => {
          const tree = join(work, `build-${version}`)
          await cp(HELLO_APP, tree, { recursive: true })
          await writeFile(join(tree, 'payload.bin'), randomBytes(sizeMib << 20))
          if (!healthy) await writeFile(join(tree, 'unhealthy'), 'this build fails its health check\n')
          const p = await publishBundle(tree, { release: 'hello', version }, { seeder: createSeederApi(api(tok.publisher, 'seeder', seederUrl)), tracker: publisher })
          say(`\npublished hello@${version} ${p.digest} (${(p.size / 2 ** 20).toFixed(1)} MiB)${healthy ? '' : ', a build whose health check fails'}`)
          return p.digest
        }
        const gates: RolloutGates = { waves: ['1', '50%', '100%'], by: 'rack', maxUnavailable: '50%', bakeSeconds: 2, haltAfter: '1', autoRollback: true }
        const deadline = (): number => performance.now() + Number(opts.timeout) * 1000

        // Version 1, in waves: everyone stages it at once, then one host, half, all; one host of a rack at a time.
        await build('1.0.0', true)
        const v1 = await publisher.startRollout('hello', 'prod', { version: '1.0.0', gates })
        say(`rolling hello@prod out to 1.0.0 in waves ${gates.waves.join(', ')} by rack, one host of a rack at a time, each wave healthy for ${gates.bakeSeconds} s:`)
        for (const [i, w] of v1.plan.waves.entries()) say(`  wave ${i + 1}: ${w.sample.join(', ')}`)
        const first = await follow(viewer, say, '1.0.0', deadline(), (s) => (s.byState.running ?? 0) === n && s.plan?.progress.state === 'done', opts.timeout)
        const offload = first.originOffload === null ? '' : `; ${Math.round(first.originOffload * 100)}% of bytes came from peers, not the origin`
        say(`every host runs hello@1.0.0, healthy${offload}`)

        // Version 2 fails its health check: halted in wave 1, the canary rolled back; nobody else stops serving 1.0.0.
        await build('2.0.0', false)
        const v2 = await publisher.startRollout('hello', 'prod', { version: '2.0.0', gates })
        const canary = v2.plan.waves[0]!.sample[0]!
        say(`rolling hello@prod out to 2.0.0 the same way, with --auto-rollback (wave 1: ${canary})`)
        let othersStopped = 0
        let sampling = true
        const sampler = (async () => {
          while (sampling) {
            const answers = await Promise.all(ports.map((p, k) => (`host-${k}` === canary ? Promise.resolve('1.0.0') : serving(p))))
            othersStopped += answers.filter((v) => v !== '1.0.0').length
            await new Promise((res) => setTimeout(res, 100))
          }
        })()
        const halted = await follow(viewer, say, '2.0.0', deadline(), (s) => s.plan?.progress.state === 'halted', opts.timeout, true)
        say(`halted: ${halted.plan!.progress.reason}`)
        const until = deadline()
        while ((await Promise.all(ports.map(serving))).some((v) => v !== '1.0.0')) {
          if (performance.now() > until) throw new AbortedError(`Cannot finish the demo: ${canary} did not serve 1.0.0 again within ${opts.timeout} s`)
          await new Promise((res) => setTimeout(res, 200))
        }
        sampling = false
        await sampler
        const ok = halted.plan!.progress.wave === 0 && halted.plan!.progress.rolledBack && othersStopped === 0
        say(`${canary} serves 1.0.0 again (it still held it: nothing downloaded); the other ${n - 1} hosts ${othersStopped === 0 ? 'never stopped serving 1.0.0' : `missed ${othersStopped} samples`}`)
        if (!ok) throw new RolloutFailedError(`Cannot finish the demo: the bad release was not contained as planned (halted in wave ${halted.plan!.progress.wave + 1}, rolled back: ${halted.plan!.progress.rolledBack})`)
        say('everything behaved as planned')
        if (exitWhenDone) return
        say(`dashboard: ${trackerUrl}/#/rollout/hello/prod?token=${tok.viewer}`)
        say(`rollout status: ${trackerUrl}/v1/rollouts/hello/prod/status (viewer token in ${join(work, 'viewer-token')})`)
        say('Ctrl-C stops everything and removes the temporary directories')
        await untilSignal()
      } finally {
        await stopAll()
      }
    })
}

/** Prints the rollout's progress as it changes until `done` says so; failures other than an expected halt end the demo. */
async function follow(viewer: TrackerApi, say: (l: string) => void, version: string, deadline: number, done: (s: RolloutStatus) => boolean, timeout: string, expectHalt = false): Promise<RolloutStatus> {
  let last = ''
  for (;;) {
    const s = await viewer.status('hello', 'prod')
    const states = Object.entries(s.byState).filter(([, c]) => c > 0).map(([st, c]) => `${st} ${c}`).join(', ')
    const p = s.plan?.progress
    const wave = p ? `  [wave ${p.wave + 1}/${s.plan!.waves.length} ${p.state === 'running' && p.bakeUntil ? 'baking' : p.state}]` : ''
    const line = `rollout hello@prod -> ${version}: ${s.percentRunning}% running (${states})${wave}`
    if (line !== last) say(line)
    last = line
    if (done(s)) return s
    if (!expectHalt && (s.failures.length || p?.state === 'halted')) {
      const f = s.failures[0]
      throw new RolloutFailedError(`Cannot finish the demo: the rollout failed${f ? ` on ${f.exampleHosts.join(', ')} with ${f.code}` : ''}${p?.reason ? `: ${p.reason}` : ''}`, { details: { code: f?.code } })
    }
    if (performance.now() > deadline) throw new AbortedError(`Cannot finish the demo: the rollout to ${version} did not finish within ${timeout} s (${states})`)
    await new Promise((res) => setTimeout(res, 200))
  }
}
