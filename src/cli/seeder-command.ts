import { resolve } from 'node:path'
import type { Command } from 'commander'
import { parseRate, parseTokens } from '../core/index.js'
import { createSeeder } from '../seeder/index.js'
import { readText, untilSignal, type CliIo } from './cli-context.js'
import { createLogLine } from './log-line.js'

interface SeederOptions {
  dataDir: string
  tokens: string
  port: string
  host: string
  peerPort: string
  publicUrl?: string
  name: string
  tracker?: string
  trackerToken?: string
  upLimit?: string
  keep: string
  sweepMinutes: string
  graceMinutes: string
  quiet?: boolean
}

export function registerSeeder(program: Command, io: CliIo): void {
  program
    .command('seeder')
    .description('Run the origin: accept uploads, store bundles by digest, seed them (peer wire + web seed) and register them with the tracker')
    .requiredOption('--data-dir <dir>', 'where bundles are stored')
    .requiredOption('--tokens <file>', 'tokens allowed to upload (role publisher), one "role token [name]" per line')
    .option('--port <port>', 'HTTP port (0 picks one)', '7701')
    .option('--host <addr>', 'address to listen on (HTTP and peers)', '127.0.0.1')
    .option('--peer-port <port>', 'peer wire port (0 picks one)', '6881')
    .option('--public-url <url>', 'URL hosts reach this seeder at (default http://HOST:PORT)')
    .option('--name <name>', 'name this seeder registers under', 'origin')
    .option('--tracker <url>', 'tracker to register bundles with and announce to')
    .option('--tracker-token <token>', 'seeder-role token for the tracker (or $SHOAL_TRACKER_TOKEN)')
    .option('--up-limit <rate>', 'peer upload limit, e.g. 40mbit or 5MiB (bytes/s unless it says bit)')
    .option('--keep <n>', 'versions of each release kept besides channel targets', '5')
    .option('--sweep-minutes <n>', 'minutes between retention sweeps (0: never)', '10')
    .option('--grace-minutes <n>', 'never sweep a bundle stored less than this long ago (it may not be a version yet)', '60')
    .option('-q, --quiet', 'no request logs')
    .action(async (opts: SeederOptions) => {
      const text = await readText(opts.tokens, 'tokens')
      const trackerToken = opts.trackerToken ?? io.env.SHOAL_TRACKER_TOKEN
      const seeder = createSeeder({
        dataDir: resolve(opts.dataDir),
        tokens: parseTokens(text),
        port: Number(opts.port),
        host: opts.host,
        peerPort: Number(opts.peerPort),
        publicUrl: opts.publicUrl,
        name: opts.name,
        tracker: opts.tracker && trackerToken ? { url: opts.tracker, token: trackerToken } : undefined,
        upLimit: opts.upLimit ? parseRate(opts.upLimit) : undefined,
        keep: Number(opts.keep),
        sweepIntervalMs: Number(opts.sweepMinutes) * 60_000,
        graceMs: Number(opts.graceMinutes) * 60_000,
        logger: !opts.quiet,
        log: createLogLine(io, 'seeder'),
      })
      const { url, peerPort } = await seeder.start()
      io.stdout.write(`${JSON.stringify({ listening: url, peerPort })}\n`)
      await untilSignal()
      await seeder.stop()
    })
}
