import { resolve } from 'node:path'
import { Option, type Command } from 'commander'
import { withConfigFile } from './config-file.js'
import { parseRate, parseTokens, readTlsFiles } from '../core/index.js'
import { readText, untilSignal, type CliIo } from './cli-context.js'
import { readSecretFile, resolveFetch } from './client-options.js'
import { createLogLine, LOG_LEVELS, logStream, type LogLevel } from './log-line.js'
import { reloadTlsOnHangup, tlsFilesOf, withTlsOptions } from './tls-options.js'

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
  trackerTokenFile?: string
  ca?: string
  tlsCert?: string
  tlsKey?: string
  upLimit?: string
  keep: string
  sweepMinutes: string
  graceMinutes: string
  maxConnsPerIp: string
  mirror: boolean
  quiet?: boolean
  logLevel: LogLevel
}

export function registerSeeder(program: Command, io: CliIo): void {
  const cmd = program
    .command('seeder')
    .description('Run the origin: accept uploads, store bundles by digest, seed them (peer wire + web seed) and register them with the tracker')
    .requiredOption('--data-dir <dir>', 'where bundles are stored')
    .requiredOption('--tokens <file>', 'tokens file: publisher tokens may upload; host and seeder tokens (or a host-key) may read the web seed')
    .option('--port <port>', 'HTTP port (0 picks one)', '7701')
    .option('--host <addr>', 'address to listen on (HTTP and peers)', '127.0.0.1')
    .option('--peer-port <port>', 'peer wire port (0 picks one)', '6881')
    .option('--public-url <url>', 'URL hosts reach this seeder at (default http(s)://HOST:PORT)')
    .option('--name <name>', 'name this seeder registers under', 'origin')
    .option('--tracker <urls>', 'tracker to register bundles with and announce to (several replicas separated by commas: failover)')
    .option('--tracker-token-file <file>', 'file holding the seeder-role token for the tracker (or $SHOAL_TRACKER_TOKEN_FILE)')
    .option('--tracker-token <token>', 'seeder-role token for the tracker (or $SHOAL_TRACKER_TOKEN); visible in ps, prefer the file')
    .option('--ca <file>', 'PEM CA certificate(s) to trust for the tracker\'s HTTPS (or $SHOAL_CA)')
    .option('--up-limit <rate>', 'peer upload limit per second: 40mbit (bits), 5MB or 5MiB (bytes)')
    .option('--keep <n>', 'versions of each release kept besides channel targets', '5')
    .option('--sweep-minutes <n>', 'minutes between retention sweeps (0: never)', '10')
    .option('--grace-minutes <n>', 'never sweep a bundle stored less than this long ago (it may not be a version yet)', '60')
    .option('--max-conns-per-ip <n>', 'HTTP connections one address may hold (0: no bound, e.g. behind a load balancer)', '256')
    .option('--no-mirror', 'hold only what is uploaded here (by default a seeder fetches every bundle the fleet keeps from the swarm, so that every seeder holds all)')
    .option('-q, --quiet', 'no request logs (internal errors are still logged)')
    .addOption(new Option('--log-level <level>', 'least level logged (JSON lines on stderr; readable on a terminal)').choices(LOG_LEVELS).default('info'))
  withTlsOptions(cmd, 'uploads and the web seed')
  withConfigFile(cmd)
  cmd.action(async (opts: SeederOptions) => {
    const text = await readText(opts.tokens, 'tokens')
    const trackerTokenFile = opts.trackerTokenFile ?? io.env.SHOAL_TRACKER_TOKEN_FILE
    const trackerToken = trackerTokenFile ? await readSecretFile(trackerTokenFile, 'tracker token file') : (opts.trackerToken ?? io.env.SHOAL_TRACKER_TOKEN)
    const tlsFiles = tlsFilesOf(opts)
    const log = createLogLine(io, 'seeder', opts.logLevel)
    const { createSeeder } = await import('../seeder/index.js')
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
      mirror: opts.mirror,
      // Quiet drops request logs, never the record of an internal error.
      logger: { level: opts.quiet ? 'error' : opts.logLevel, stream: logStream(io, 'seeder') },
      tls: tlsFiles ? await readTlsFiles(tlsFiles) : undefined,
      connections: { maxPerAddress: Number(opts.maxConnsPerIp) },
      fetch: await resolveFetch(opts, io),
      log,
    })
    const { url, peerPort } = await seeder.start()
    const stopReload = tlsFiles && seeder.server ? reloadTlsOnHangup(seeder.server, tlsFiles, log) : () => {}
    io.stdout.write(`${JSON.stringify({ listening: url, peerPort })}\n`)
    await untilSignal()
    stopReload()
    await seeder.stop()
  })
}
