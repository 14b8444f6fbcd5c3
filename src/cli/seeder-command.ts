import { resolve } from 'node:path'
import type { Command } from 'commander'
import { parseTokens } from '../core/index.js'
import { buildSeeder, createBundleStore } from '../seeder/index.js'
import { readText, type CliIo } from './cli-context.js'

interface SeederOptions {
  dataDir: string
  tokens: string
  port: string
  host: string
  publicUrl?: string
  name: string
  tracker?: string
  trackerToken?: string
  quiet?: boolean
}

export function registerSeeder(program: Command, io: CliIo): void {
  program
    .command('seeder')
    .description('Run the origin: accept uploads, store bundles by digest, serve them as a web seed and register them with the tracker')
    .requiredOption('--data-dir <dir>', 'where bundles are stored')
    .requiredOption('--tokens <file>', 'tokens allowed to upload (role publisher), one "role token [name]" per line')
    .option('--port <port>', 'TCP port (0 picks one)', '7701')
    .option('--host <addr>', 'address to listen on', '127.0.0.1')
    .option('--public-url <url>', 'URL hosts reach this seeder at (default http://HOST:PORT)')
    .option('--name <name>', 'name this seeder registers under', 'origin')
    .option('--tracker <url>', 'tracker to register bundles with')
    .option('--tracker-token <token>', 'seeder-role token for the tracker (or $SHOAL_TRACKER_TOKEN)')
    .option('-q, --quiet', 'no request logs')
    .action(async (opts: SeederOptions) => {
      const text = await readText(opts.tokens, 'tokens')
      const store = createBundleStore({ dataDir: resolve(opts.dataDir) })
      await store.start()
      const trackerToken = opts.trackerToken ?? io.env.SHOAL_TRACKER_TOKEN
      const app = await buildSeeder({
        store,
        tokens: parseTokens(text),
        publicUrl: opts.publicUrl ?? `http://${opts.host}:${opts.port}`,
        name: opts.name,
        tracker: opts.tracker && trackerToken ? { url: opts.tracker, token: trackerToken } : undefined,
        logger: !opts.quiet,
      })
      const address = await app.listen({ port: Number(opts.port), host: opts.host })
      io.stdout.write(`${JSON.stringify({ listening: address })}\n`)
      await new Promise<void>((resolveStop) => {
        const onSignal = (): void => void app.close().then(() => resolveStop())
        process.once('SIGTERM', onSignal)
        process.once('SIGINT', onSignal)
      })
    })
}
