import { readFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join, resolve } from 'node:path'
import { Option, type Command } from 'commander'
import { withConfigFile } from './config-file.js'
import { checkName, parseRate, parseTrustedKeys, readTlsFiles } from '../core/index.js'
import { SNAPSHOTTER_NAMES, type SnapshotterName } from '../launcher/index.js'
import { readText, untilSignal, usage, type CliIo } from './cli-context.js'
import { resolveFetch, resolveToken, withClientOptions } from './client-options.js'
import { reloadTlsOnHangup, tlsFilesOf } from './tls-options.js'
import { agentFor } from './agent-options.js'
import { createLogLine, LOG_LEVELS, type LogLevel } from './log-line.js'

interface FetcherOptions {
  dataDir: string
  logLevel: LogLevel
  tracker: string
  token?: string
  tokenFile?: string
  ca?: string
  tlsCert?: string
  tlsKey?: string
  follow: string[]
  hostId?: string
  label: string[]
  peerPort: string
  listenHost?: string
  downLimit?: string
  upLimit?: string
  maxConns: string
  keep: string
  trustedKeys?: string
  root?: string
  snapshotter: string
  agent: string
  exec?: string
  runtime?: string
  launch: boolean
  metricsPort?: string
}

const collect = (value: string, previous: string[]): string[] => [...previous, value]

export function registerFetcher(program: Command, io: CliIo): void {
  const cmd = program
    .command('fetcher')
    .description('Run the host daemon: follow release@channel targets, fetch them from the swarm, verify, launch, keep seeding, report')
    .requiredOption('--data-dir <dir>', 'cache of bundles and downloads under way')
    .requiredOption('--tracker <urls>', 'tracker base URL, or several replicas\' separated by commas (failover)')
    .option('--follow <release@channel>', 'a target to follow (repeat for more)', collect, [])
    .option('--host-id <id>', 'this host\'s name at the tracker (default the hostname and the first 8 characters of /etc/machine-id: unique per machine even where hostnames repeat)')
    .option('--label <k=v>', 'a label such as region=eu or rack=r12 (repeat for more)', collect, [])
    .option('--peer-port <port>', 'peer wire port (0 picks one)', '6882')
    .option('--listen-host <addr>', 'address the peer wire listens on (default all)')
    .option('--down-limit <rate>', 'download limit per second: 40mbit (bits), 5MB or 5MiB (bytes); a lone lowercase b (10mb) is refused as ambiguous')
    .option('--up-limit <rate>', 'upload limit per second, same units')
    .option('--max-conns <n>', 'peer connections per bundle', '50')
    .option('--keep <n>', 'bundles kept in the cache besides current targets', '2')
    .option('--trusted-keys <file>', 'hand on only bundles signed by one of these keys')
    .option('--root <dir>', 'launcher state directory (default DATA_DIR/launcher)')
    .option('--snapshotter <name>', `one of ${SNAPSHOTTER_NAMES.join(', ')}`, 'dir')
    .option('--agent <name>', 'process, exec, oci, or none (install and activate only)', 'process')
    .option('--exec <command>', 'for --agent exec: shell command run with SHOAL_ROOTFS etc. set')
    .option('--runtime <path>', 'for --agent oci: runc (default) or crun')
    .option('--metrics-port <port>', 'serve Prometheus /metrics on this port (on --listen-host, default 127.0.0.1)')
    .addOption(new Option('--log-level <level>', 'least level logged (JSON lines on stderr; readable on a terminal)').choices(LOG_LEVELS).default('info'))
    .option('--no-launch', 'fetch, verify and seed only; never call the launcher (caches, benchmarks)')
    .option('--tls-cert <file>', 'serve /metrics over HTTPS with this PEM certificate (with --tls-key; reloaded on SIGHUP)')
    .option('--tls-key <file>', 'PEM private key for --tls-cert')
  withClientOptions(cmd, 'host')
  withConfigFile(cmd)
  cmd.action(async (opts: FetcherOptions) => {
      const token = await resolveToken(opts, io, 'start the fetcher', 'a host')
      const httpFetch = await resolveFetch(opts, io)
      const tlsFiles = tlsFilesOf(opts)
      if (!opts.follow.length) throw usage('Cannot start the fetcher: name at least one --follow release@channel')
      for (const f of opts.follow) {
        const [r, c, ...rest] = f.split('@')
        if (!r || !c || rest.length) throw usage(`Cannot follow "${f}": write release@channel`)
        checkName('release', r)
        checkName('channel', c)
      }
      const labels: Record<string, string> = {}
      for (const l of opts.label) {
        const at = l.indexOf('=')
        if (at < 1) throw usage(`Cannot read label "${l}": write key=value`)
        labels[l.slice(0, at)] = l.slice(at + 1)
      }
      if (!SNAPSHOTTER_NAMES.includes(opts.snapshotter as SnapshotterName)) throw usage(`Cannot start the fetcher: --snapshotter must be one of ${SNAPSHOTTER_NAMES.join(', ')} (current value is ${opts.snapshotter})`)
      const hostId = opts.hostId ?? defaultHostId()
      checkName('host', hostId)
      const dataDir = resolve(opts.dataDir)
      const root = resolve(opts.root ?? join(dataDir, 'launcher'))
      const log = createLogLine(io, 'fetcher', opts.logLevel)
      // The parts this command needs, loaded only when it runs (shoal launch never loads the swarm).
      const [{ createFetcher, serveFetcherMetrics }, { createAgent, createHandOff }] = await Promise.all([import('../fetcher/index.js'), import('../launcher/index.js')])
      const agent = opts.agent === 'none' ? undefined : agentFor(createAgent, opts, io)
      const handOff = opts.launch ? createHandOff({ root, snapshotter: opts.snapshotter as SnapshotterName, agent }, { log }) : undefined
      const fetcher = createFetcher({
        dataDir,
        tracker: { url: opts.tracker, token },
        hostId,
        follows: opts.follow,
        labels,
        peerPort: Number(opts.peerPort),
        listenHost: opts.listenHost,
        downLimit: opts.downLimit ? parseRate(opts.downLimit) : undefined,
        upLimit: opts.upLimit ? parseRate(opts.upLimit) : undefined,
        maxConns: Number(opts.maxConns),
        keep: Number(opts.keep),
        trustedKeys: opts.trustedKeys ? parseTrustedKeys(await readText(opts.trustedKeys, 'trusted keys')) : undefined,
        handOff,
        fetch: httpFetch,
        log,
      })
      const { peerPort } = await fetcher.start()
      const metrics = opts.metricsPort
        ? await serveFetcherMetrics(fetcher, Number(opts.metricsPort), opts.listenHost ?? '127.0.0.1', tlsFiles ? await readTlsFiles(tlsFiles) : undefined)
        : undefined
      const stopReload = metrics && tlsFiles ? reloadTlsOnHangup(metrics.app.server, tlsFiles, log) : () => {}
      io.stdout.write(`${JSON.stringify({ listening: `tcp://${opts.listenHost ?? '0.0.0.0'}:${peerPort}`, hostId, peerPort, ...(metrics ? { metrics: `${metrics.url}/metrics` } : {}) })}\n`)
      await untilSignal()
      stopReload()
      log('info', 'stopping')
      await fetcher.stop()
      await metrics?.app.close()
      await handOff?.stopAll()
    })
}

/**
 * The host id a fetcher uses when none is given: the hostname with the start of the machine's
 * systemd machine id (unique per installed machine, stable across reboots), so two machines
 * cloned with one hostname are still two hosts. Only the hostname where there is no machine id.
 */
export function defaultHostId(machineIdFile = '/etc/machine-id'): string {
  const name = hostname().toLowerCase().replace(/[^a-z0-9._-]/g, '-') || 'host'
  let id = ''
  try {
    id = readFileSync(machineIdFile, 'utf8').trim().toLowerCase()
  } catch {
    return name
  }
  return /^[0-9a-f]{32}$/.test(id) ? `${name}-${id.slice(0, 8)}` : name
}
