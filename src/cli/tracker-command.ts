import { resolve } from 'node:path'
import type { Command } from 'commander'
import { buildTracker, createTrackerStore, parseTokens } from '../tracker/index.js'
import { readText, type CliIo } from './cli-context.js'

interface TrackerOptions {
  dataDir: string
  port: string
  host: string
  tokens: string
  udpPort?: string
  quiet?: boolean
}

export function registerTracker(program: Command, io: CliIo): void {
  program
    .command('tracker')
    .description('Run the tracker: release registry, channels, rollouts and host reports (HTTP API under /v1)')
    .requiredOption('--data-dir <dir>', 'where the registry (level) lives')
    .requiredOption('--tokens <file>', 'bearer tokens, one "role token [name]" per line')
    .option('--port <port>', 'TCP port (0 picks one)', '7700')
    .option('--host <addr>', 'address to listen on', '127.0.0.1')
    .option('--udp-port <port>', 'also serve the UDP tracker protocol (BEP 15) on this port; no passkeys over UDP')
    .option('-q, --quiet', 'no request logs')
    .action(async (opts: TrackerOptions) => {
      const tokensText = await readText(opts.tokens, 'tokens')
      const tokens = parseTokens(tokensText)
      const store = createTrackerStore({ dataDir: resolve(opts.dataDir) })
      await store.start()
      const app = await buildTracker({ store, tokens, logger: opts.quiet ? false : { level: 'info' }, udpPort: opts.udpPort === undefined ? undefined : Number(opts.udpPort) })
      const address = await app.listen({ port: Number(opts.port), host: opts.host })
      // One machine-readable line so that scripts and tests learn the ports.
      io.stdout.write(`${JSON.stringify({ listening: address, udpPort: app.udpPort?.() ?? null })}\n`)
      const stop = async (): Promise<void> => {
        await app.close()
        await store.stop()
      }
      await new Promise<void>((resolveStop) => {
        const onSignal = (): void => void stop().then(resolveStop)
        process.once('SIGTERM', onSignal)
        process.once('SIGINT', onSignal)
      })
    })
}
