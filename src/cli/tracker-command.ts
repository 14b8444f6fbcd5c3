import { resolve } from 'node:path'
import { Option, type Command } from 'commander'
import { withConfigFile } from './config-file.js'
import { parseFailpoints, parseTokens, readTlsFiles, UsageError } from '../core/index.js'
import { readText, untilSignal, type CliIo } from './cli-context.js'
import { createLogLine, LOG_LEVELS, logStream, type LogLevel } from './log-line.js'
import { reloadTlsOnHangup, tlsFilesOf, withTlsOptions } from './tls-options.js'

interface TrackerOptions {
  dataDir?: string
  store?: string
  storeFile?: string
  redis?: string
  redisFile?: string
  port: string
  host: string
  tokens: string
  udpPort?: string
  publicUrl?: string
  replicaUrls?: string
  maxHosts: string
  statusCacheMs: string
  lostAfter: string
  maxStreams: string
  maxConnsPerIp: string
  maxConnections: string
  tlsCert?: string
  tlsKey?: string
  quiet?: boolean
  logLevel: LogLevel
}

export function registerTracker(program: Command, io: CliIo): void {
  const cmd = program
    .command('tracker')
    .description('Run the tracker: release registry, channels, rollouts and host reports (HTTP API under /v1)')
    .option('--data-dir <dir>', 'where the registry lives on this box (shorthand for --store level:DIR)')
    .option('--store <spec>', 'level:DIR, or postgres://user@host:port/db for several replicas over one PostgreSQL (also $SHOAL_STORE, which keeps a password out of ps)')
    .option('--store-file <file>', 'read the store spec from this file (a secret, e.g. with a password)')
    .option('--redis <url>', 'redis://host:port: share swarms with the other replicas through Redis (also $SHOAL_REDIS)')
    .option('--redis-file <file>', 'read the Redis URL from this file')
    .requiredOption('--tokens <file>', 'bearer tokens, one "role token [name]" per line (host tokens name their host; "host-key KEY" accepts derived host tokens)')
    .option('--port <port>', 'TCP port (0 picks one)', '7700')
    .option('--host <addr>', 'address to listen on', '127.0.0.1')
    .option('--public-url <url>', 'URL clients reach this tracker at, for announce URLs in served torrents (default from each request)')
    .option('--replica-urls <urls>', 'every replica\'s URL as clients reach it, comma-separated: served torrents list them all (BEP 12 announce-list)')
    .option('--udp-port <port>', 'also serve the UDP tracker protocol (BEP 15) on this port; no passkeys over UDP')
    .option('--max-hosts <n>', 'hosts the registry holds at most', '100000')
    .option('--status-cache-ms <ms>', 'how long one computed rollout status is shared by every reader (0: computed per read)', '250')
    .option('--lost-after <seconds>', 'a host whose fetcher has not polled for this long counts as lost, not running', '90')
    .option('--max-streams <n>', 'event streams (dashboards, rollout status --watch) open at once', '1000')
    .option('--max-conns-per-ip <n>', 'connections one address may hold (0: no bound, e.g. behind a load balancer)', '256')
    .option('--max-connections <n>', 'connections held at most (keep it under the open-files limit)', '16384')
    .option('-q, --quiet', 'no request logs (internal errors are still logged)')
    .addOption(new Option('--log-level <level>', 'least level logged (JSON lines on stderr; readable on a terminal)').choices(LOG_LEVELS).default('info'))
  withTlsOptions(cmd, 'the API, announces and the dashboard')
  withConfigFile(cmd)
  cmd.action(async (opts: TrackerOptions) => {
    const tokensText = await readText(opts.tokens, 'tokens')
    const tokens = parseTokens(tokensText)
    const tlsFiles = tlsFilesOf(opts)
    const { createTracker } = await import('../tracker/index.js')
    const fromFile = async (file: string | undefined, what: string): Promise<string | undefined> => (file === undefined ? undefined : (await readText(file, what)).trim())
    const store = opts.store ?? (await fromFile(opts.storeFile, 'store spec')) ?? io.env.SHOAL_STORE ?? (opts.dataDir === undefined ? undefined : `level:${resolve(opts.dataDir)}`)
    if (store === undefined) throw new UsageError('Cannot start the tracker: give --data-dir DIR (one box) or --store postgres://... (a fleet)')
    const redis = opts.redis ?? (await fromFile(opts.redisFile, 'Redis URL')) ?? io.env.SHOAL_REDIS
    if (redis !== undefined && !/^rediss?:\/\//.test(redis)) throw new UsageError('Cannot use --redis: write redis://host:port[/db]')
    const log = createLogLine(io, 'tracker', opts.logLevel)
    const tracker = createTracker({
      store: store.startsWith('level:') ? `level:${resolve(store.slice(6))}` : store,
      redis,
      onSyncLog: (msg) => log(msg.includes('connected to') ? 'info' : 'warn', msg),
      port: Number(opts.port),
      host: opts.host,
      // Crash points, for tests only (see core/failpoints).
      failpoints: parseFailpoints(io.env.SHOAL_FAILPOINTS ?? ''),
      tokens,
      logger: { level: opts.quiet ? 'error' : opts.logLevel, stream: logStream(io, 'tracker') },
      udpPort: opts.udpPort === undefined ? undefined : Number(opts.udpPort),
      publicUrl: opts.publicUrl,
      replicaUrls: opts.replicaUrls?.split(',').map((u) => u.trim()).filter(Boolean),
      maxHosts: Number(opts.maxHosts),
      statusCacheMs: Number(opts.statusCacheMs),
      lostAfterSeconds: Number(opts.lostAfter),
      maxStreams: Number(opts.maxStreams),
      connections: { maxPerAddress: Number(opts.maxConnsPerIp), maxConnections: Number(opts.maxConnections) },
      tls: tlsFiles ? await readTlsFiles(tlsFiles) : undefined,
    })
    const { url: address, udpPort } = await tracker.start()
    const stopReload = tlsFiles ? reloadTlsOnHangup(tracker.app.server, tlsFiles, log) : () => {}
    // One machine-readable line so that scripts and tests learn the ports.
    io.stdout.write(`${JSON.stringify({ listening: address, udpPort: udpPort ?? null })}\n`)
    await untilSignal()
    stopReload()
    await tracker.stop()
  })
}
