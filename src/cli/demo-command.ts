import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Transform } from 'node:stream'
import { fileURLToPath } from 'node:url'
import type { Command } from 'commander'
import { deriveHostToken, parseTokens, ShoalError } from '../core/index.js'
import { createFetcher, type Fetcher } from '../fetcher/index.js'
import { createProcessAgent } from '../launcher/index.js'
import { createSeeder } from '../seeder/index.js'
import { buildTracker, createTrackerStore } from '../tracker/index.js'
import { untilSignal, usage, type CliIo } from './cli-context.js'
import { createHandOff } from './hand-off.js'
import { publish } from './publish-command.js'

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
        const store = createTrackerStore({ dataDir: join(work, 'tracker') })
        await store.start()
        const tracker = await buildTracker({ store, tokens })
        const trackerUrl = await tracker.listen({ port: 0, host: '127.0.0.1' })
        stops.push(async () => {
          await tracker.close()
          await store.stop()
        })
        say(`tracker   ${trackerUrl}`)
        const seeder = createSeeder({ dataDir: join(work, 'seeder'), tokens, port: 0, peerPort: 0, tracker: { url: trackerUrl, token: tok.seeder }, sweepIntervalMs: 0 })
        const { url: seederUrl, peerPort } = await seeder.start()
        stops.push(() => seeder.stop())
        say(`seeder    ${seederUrl} (peers on port ${peerPort})`)
        const fetchers: Fetcher[] = []
        for (let k = 0; k < n; k++) {
          const root = join(work, `host-${k}`, 'launcher')
          const agent = createProcessAgent({ stdout: prefixed(`[host-${k}] `, io.stdout), stderr: prefixed(`[host-${k}] `, io.stderr), env: io.env })
          const { handOff, stopAll: stopApps } = createHandOff({ root, snapshotter: 'dir', agent })
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
            await stopApps()
          })
          fetchers.push(f)
          say(`host-${k}    following hello@prod (peers on port ${p})`)
        }

        const published = await publish(HELLO_APP, { release: 'hello', version: '1.0.0', channel: 'prod', seeder: seederUrl, tracker: trackerUrl, token: tok.publisher, quiet: true }, io)
        say(`published hello@1.0.0 ${published.digest} (${published.size} bytes) and moved hello@prod to it\n`)

        const deadline = performance.now() + Number(opts.timeout) * 1000
        let last = ''
        let status: { byState: Record<string, number>; percentRunning: number; failures: { code: string; count: number; exampleHosts: string[] }[]; originOffload: number | null } | undefined
        for (;;) {
          const r = await fetch(`${trackerUrl}/v1/rollouts/hello/prod/status`, { headers: { authorization: `Bearer ${tok.viewer}` } })
          status = (await r.json()) as typeof status
          const states = Object.entries(status!.byState)
            .filter(([, c]) => c > 0)
            .map(([s, c]) => `${s} ${c}`)
            .join(', ')
          const line = `rollout hello@prod -> 1.0.0: ${status!.percentRunning}% running (${states})`
          if (line !== last) say(line)
          last = line
          if (status!.failures.length) {
            const f = status!.failures[0]!
            throw new ShoalError(f.code, 'io', 500, `Rollout failed on ${f.exampleHosts.join(', ')} with ${f.code}`)
          }
          if ((status!.byState.running ?? 0) === n) break
          if (performance.now() > deadline) throw new ShoalError('ABORTED', 'io', 499, `The rollout did not finish within ${opts.timeout} s (${states})`)
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
