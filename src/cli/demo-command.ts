import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Transform } from 'node:stream'
import { fileURLToPath } from 'node:url'
import type { Command } from 'commander'
import { AbortedError, createApiClient, createSeederApi, createTrackerApi, deriveHostToken, parseTokens, RolloutFailedError, type RolloutStatus } from '../core/index.js'
import { untilSignal, usage, type CliIo } from './cli-context.js'

const HELLO_APP = fileURLToPath(new URL('../../fixtures/hello-app', import.meta.url))

interface DemoOptions {
  hosts: string
  exit?: boolean
  timeout: string
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
    .description('Start a tracker, a seeder and a few hosts on localhost, publish fixtures/hello-app, watch it roll out and launch on every host')
    .option('--hosts <n>', 'number of hosts', '3')
    .option('--exit', 'exit once every host runs the app (default when stdin is not a terminal)')
    .option('--timeout <seconds>', 'give up (exit 1) if the rollout is not done by then', '60')
    .action(async (opts: DemoOptions) => {
      const n = Number(opts.hosts)
      if (!Number.isInteger(n) || n < 1 || n > 50) throw usage(`Cannot run the demo: --hosts must be 1..50 (current value is ${opts.hosts})`)
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
        for (let k = 0; k < n; k++) {
          const root = join(work, `host-${k}`, 'launcher')
          const agent = createProcessAgent({ stdout: prefixed(`[host-${k}] `, io.stdout), stderr: prefixed(`[host-${k}] `, io.stderr), env: io.env })
          const handOff = createHandOff({ root, snapshotter: 'dir', agent })
          const f = createFetcher({
            dataDir: join(work, `host-${k}`),
            tracker: { url: trackerUrl, token: deriveHostToken(tok.hostKey, `host-${k}`) },
            hostId: `host-${k}`,
            follows: ['hello@prod'],
            labels: { rack: `r${k % 2}` },
            peerPort: 0,
            listenHost: '127.0.0.1',
            handOff,
          })
          const { peerPort: p } = await f.start()
          stops.push(async () => {
            await f.stop()
            await handOff.stopAll()
          })
          say(`host-${k}    following hello@prod (peers on port ${p})`)
        }

        const api = (token: string, server: 'tracker' | 'seeder', url: string) => createApiClient({ url, token, server })
        const viewer = createTrackerApi(api(tok.viewer, 'tracker', trackerUrl), tok.viewer)
        const published = await publishBundle(
          HELLO_APP,
          { release: 'hello', version: '1.0.0', channel: 'prod' },
          { seeder: createSeederApi(api(tok.publisher, 'seeder', seederUrl)), tracker: createTrackerApi(api(tok.publisher, 'tracker', trackerUrl), tok.publisher) },
        )
        say(`published hello@1.0.0 ${published.digest} (${published.size} bytes) and moved hello@prod to it\n`)

        const deadline = performance.now() + Number(opts.timeout) * 1000
        let last = ''
        let status: RolloutStatus | undefined
        for (;;) {
          status = await viewer.status('hello', 'prod')
          const states = Object.entries(status!.byState)
            .filter(([, c]) => c > 0)
            .map(([s, c]) => `${s} ${c}`)
            .join(', ')
          const line = `rollout hello@prod -> 1.0.0: ${status!.percentRunning}% running (${states})`
          if (line !== last) say(line)
          last = line
          if (status!.failures.length) {
            const f = status!.failures[0]!
            throw new RolloutFailedError(`Cannot finish the demo: the rollout failed on ${f.exampleHosts.join(', ')} with ${f.code}`, { details: { code: f.code, hosts: f.exampleHosts } })
          }
          if ((status!.byState.running ?? 0) === n) break
          if (performance.now() > deadline) throw new AbortedError(`Cannot finish the demo: the rollout did not finish within ${opts.timeout} s (${states})`)
          await new Promise((res) => setTimeout(res, 200))
        }
        const offload = status!.originOffload === null ? '' : `; ${Math.round(status!.originOffload * 100)}% of bytes came from peers`
        say(`\nevery host runs hello@1.0.0${offload}`)
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
