import { spawnSync } from 'node:child_process'
import { mkdir, readFile, rm, statfs, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { Option, type Command } from 'commander'
import { SNAPSHOTTER_NAMES } from '../launcher/index.js'
import { EXIT, QuietExit, usage, writeJson, type CliIo } from './cli-context.js'
import { resolveFetch, resolveToken, withClientOptions, type ClientOptions } from './client-options.js'

interface DoctorOptions extends ClientOptions {
  dataDir: string
  snapshotter: string
  agent: string
  tracker?: string
  seeder?: string
  hostId?: string
  minFreeGib: string
  maxSkewSeconds: string
  procFilesystems: string
  json?: boolean
}

export interface Check {
  check: string
  ok: boolean
  detail: string
}

const GIB = 1024 ** 3
/** Why a fetch did not connect: undici puts the socket's error (ECONNREFUSED, ...) in `cause`. */
const unreachable = (base: string, err: unknown): string => {
  const e = err as Error
  return `${base} unreachable: ${e.cause instanceof Error ? e.cause.message : e.message}`
}
const onPath = (tool: string): boolean => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0

/** Writes and removes a file under the data dir, and reads its free space. */
async function checkDataDir(dir: string, minFree: number): Promise<Check> {
  try {
    await mkdir(dir, { recursive: true })
    const probe = join(dir, `.doctor-${process.pid}`)
    await writeFile(probe, 'ok')
    await rm(probe)
    const s = await statfs(dir)
    const free = s.bavail * s.bsize
    const ok = free >= minFree
    return { check: 'data-dir', ok, detail: `${dir}: writable, ${(free / GIB).toFixed(1)} GiB free${ok ? '' : ` (under the ${(minFree / GIB).toFixed(1)} GiB asked: free space or --min-free-gib)`}` }
  } catch (err) {
    return { check: 'data-dir', ok: false, detail: `${dir}: ${(err as Error).message}` }
  }
}

/** What the snapshotter needs from the kernel, the file system and the tools. */
async function checkSnapshotter(name: string, dir: string, procFilesystems: string): Promise<Check> {
  const root = process.getuid?.() === 0
  const filesystems = await readFile(procFilesystems, 'utf8').catch(() => '')
  const kernelHas = (fs: string): boolean => filesystems.split('\n').some((l) => l.split('\t').at(-1)?.trim() === fs)
  const fail = (detail: string): Check => ({ check: 'snapshotter', ok: false, detail: `${name}: ${detail}` })
  if (name === 'dir') return { check: 'snapshotter', ok: true, detail: 'dir: plain directories, nothing to check' }
  if (!root) return fail('needs root (it mounts); run the fetcher as root or use --snapshotter dir')
  if (name === 'overlay') {
    if (!kernelHas('overlay')) return fail(`the kernel has no overlayfs (not in ${procFilesystems}): modprobe overlay, or use --snapshotter dir`)
    return { check: 'snapshotter', ok: true, detail: 'overlay: overlayfs in the kernel, running as root' }
  }
  if (!kernelHas('btrfs')) return fail(`the kernel has no btrfs (not in ${procFilesystems})`)
  if (!onPath('btrfs')) return fail('the btrfs tool is missing (Debian package btrfs-progs)')
  const fsType = spawnSync('stat', ['-f', '-c', '%T', dir], { encoding: 'utf8' }).stdout.trim()
  if (fsType !== 'btrfs') return fail(`${dir} is on ${fsType || 'an unknown file system'}, not btrfs: put the data dir on a btrfs file system`)
  return { check: 'snapshotter', ok: true, detail: `btrfs: ${dir} on btrfs, btrfs-progs present, running as root` }
}

function checkAgent(name: string): Check {
  if (name === 'oci') {
    const runtime = ['runc', 'crun'].find(onPath)
    return runtime ? { check: 'agent', ok: true, detail: `oci: ${runtime} found` } : { check: 'agent', ok: false, detail: 'oci: no OCI runtime on PATH (Debian package runc)' }
  }
  if (!['process', 'exec', 'none'].includes(name)) return { check: 'agent', ok: false, detail: `${name}: not an agent (process, exec, oci, none)` }
  return { check: 'agent', ok: true, detail: `${name}: nothing to install` }
}

/** Reachable, clock close to ours, and this host's token taken for this host. */
async function checkTracker(url: string, token: string | undefined, hostId: string | undefined, maxSkew: number, fetchFn: typeof fetch): Promise<Check[]> {
  const base = url.split(',')[0]!.replace(/\/+$/, '')
  const checks: Check[] = []
  let res: Response
  const sent = Date.now()
  try {
    res = await fetchFn(`${base}/healthz`, { signal: AbortSignal.timeout(5_000) })
  } catch (err) {
    return [{ check: 'tracker', ok: false, detail: unreachable(base, err) }]
  }
  const rtt = Date.now() - sent
  checks.push({ check: 'tracker', ok: res.ok, detail: `${base}: ${res.ok ? `answers in ${rtt} ms` : `answered HTTP ${res.status} to /healthz`}` })
  const date = Date.parse(res.headers.get('date') ?? '')
  if (Number.isFinite(date)) {
    // The Date header has whole seconds: compare with the middle of the round trip, allow 1 s of rounding.
    const skew = (sent + rtt / 2 - date) / 1000
    const ok = Math.abs(skew) <= maxSkew + 1
    checks.push({ check: 'clock', ok, detail: `${Math.abs(skew).toFixed(1)} s ${skew >= 0 ? 'ahead of' : 'behind'} the tracker${ok ? '' : ` (more than ${maxSkew} s: reports and liveness times will be wrong; run NTP)`}` })
  }
  if (token !== undefined && hostId !== undefined) {
    const r = await fetchFn(`${base}/v1/hosts/${encodeURIComponent(hostId)}/targets`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(5_000) }).catch(() => undefined)
    const status = r?.status ?? 0
    await r?.body?.cancel().catch(() => {})
    const ok = status === 200 || status === 404
    const why = status === 401 ? 'the token is refused' : status === 403 ? `the token is not host ${hostId}'s` : `HTTP ${status}`
    checks.push({ check: 'tracker-auth', ok, detail: ok ? `host ${hostId}'s token is taken${status === 404 ? ' (not registered yet: the fetcher registers it)' : ''}` : `${why}` })
  }
  return checks
}

async function checkSeeder(url: string, token: string | undefined, fetchFn: typeof fetch): Promise<Check[]> {
  const base = url.split(',')[0]!.replace(/\/+$/, '')
  try {
    const r = await fetchFn(`${base}/metrics`, { signal: AbortSignal.timeout(5_000) })
    await r.body?.cancel().catch(() => {})
    const checks: Check[] = [{ check: 'seeder', ok: r.ok, detail: `${base}: ${r.ok ? 'answers' : `answered HTTP ${r.status}`}` }]
    if (token !== undefined) {
      // A bundle nobody has: 404 means the token was taken (the web seed needs it).
      const probe = await fetchFn(`${base}/bundles/${'0'.repeat(64)}.tar`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(5_000) })
      await probe.body?.cancel().catch(() => {})
      const ok = probe.status === 404 || probe.status === 200
      checks.push({ check: 'seeder-auth', ok, detail: ok ? 'the web seed takes this token' : `the web seed refuses this token (HTTP ${probe.status})` })
    }
    return checks
  } catch (err) {
    return [{ check: 'seeder', ok: false, detail: unreachable(base, err) }]
  }
}

export function registerDoctor(program: Command, io: CliIo): void {
  withClientOptions(
    program
      .command('doctor')
      .description('Check that this host can run the fetcher: data dir and free space, the snapshotter\'s kernel features and tools, the agent, the tracker and seeder (reachable, clock, token); one line per check, exit 1 if one fails')
      .option('--data-dir <dir>', 'the fetcher\'s data dir', '/var/lib/shoal-fetcher')
      .option('--snapshotter <name>', `one of ${SNAPSHOTTER_NAMES.join(', ')}`, 'dir')
      .option('--agent <name>', 'process, exec, oci or none', 'process')
      .option('--tracker <urls>', 'the tracker (the first of several replicas is checked)')
      .option('--seeder <url>', 'a seeder whose web seed this host may use')
      .option('--host-id <id>', 'this host\'s id, to check that the token is its own')
      .option('--min-free-gib <n>', 'free space the data dir needs', '1')
      .option('--max-skew-seconds <n>', 'largest clock difference to the tracker', '5')
      .addOption(new Option('--proc-filesystems <file>', 'where the kernel lists its file systems (for tests)').default('/proc/filesystems').hideHelp())
      .option('--json', 'print JSON'),
    'host',
  ).action(async (opts: DoctorOptions) => {
    if (!SNAPSHOTTER_NAMES.includes(opts.snapshotter as (typeof SNAPSHOTTER_NAMES)[number])) throw usage(`Cannot check: --snapshotter must be one of ${SNAPSHOTTER_NAMES.join(', ')}`)
    const dir = resolve(opts.dataDir)
    const token = opts.token !== undefined || opts.tokenFile !== undefined || io.env.SHOAL_TOKEN !== undefined || io.env.SHOAL_TOKEN_FILE !== undefined ? await resolveToken(opts, io, 'check the tracker', 'a host') : undefined
    const fetchFn = await resolveFetch(opts, io)
    const major = Number(process.versions.node.split('.')[0])
    const checks: Check[] = [
      { check: 'node', ok: major >= 20, detail: `Node.js ${process.versions.node}${major >= 20 ? '' : ' (20 or newer needed)'}` },
      await checkDataDir(dir, Number(opts.minFreeGib) * GIB),
      await checkSnapshotter(opts.snapshotter, dir, opts.procFilesystems),
      checkAgent(opts.agent),
      ...(opts.tracker ? await checkTracker(opts.tracker, token, opts.hostId, Number(opts.maxSkewSeconds), fetchFn) : []),
      ...(opts.seeder ? await checkSeeder(opts.seeder, token, fetchFn) : []),
    ]
    const ok = checks.every((c) => c.ok)
    if (opts.json) writeJson(io, { ok, checks })
    else for (const c of checks) io.stdout.write(`${c.ok ? 'ok  ' : 'FAIL'}  ${c.check.padEnd(12)} ${c.detail}\n`)
    if (!ok) throw new QuietExit(EXIT.failure)
  })
}
