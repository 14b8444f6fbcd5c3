import { mkdir } from 'node:fs/promises'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import { Level } from 'level'
import {
  HostRegistrationSchema,
  MAX_FOLLOWS,
  NO_FAILPOINTS,
  type Failpoints,
  digestHex,
  fromSystemError,
  NotFoundError,
  type Digest,
} from '../core/index.js'
import type { RolloutProgress } from '../core/index.js'
import type { RolloutPlan } from './plan-waves.js'
import { channelMove, mergeBundle, publishVersion, reportRecord, seqOfRollout } from './store-records.js'

/** Version of every stored record's shape; bump with a migration. */
export const RECORD_SCHEMA = 1

export interface BundleRecord {
  schema: number
  digest: Digest
  size: number
  infoHash: string
  pieceLength: number
  webSeeds: string[]
  seeders: string[]
  /** The .torrent file, base64, when the seeder sent it. */
  torrent?: string
  registeredAt: string
}

export interface VersionRecord {
  schema: number
  release: string
  version: string
  digest: Digest
  signature?: unknown
  publishedBy: string
  publishedAt: string
}

export interface RolloutRecord {
  schema: number
  id: string
  release: string
  channel: string
  fromVersion: string | null
  toVersion: string
  digest: Digest
  /** What the channel pointed at before (null: the first move). Absent in records from before it. */
  fromDigest?: Digest | null
  by: string
  at: string
  /** A planned rollout: its gates, and the waves and batches of host ids (absent: a plain move). */
  gates?: RolloutPlan['gates']
  plan?: RolloutPlan
  progress?: RolloutProgress
}

export interface ChannelRecord {
  schema: number
  release: string
  channel: string
  version: string
  digest: Digest
  rolloutId: string
  movedBy: string
  movedAt: string
}

export interface HostRecord {
  schema: number
  id: string
  labels: Record<string, string>
  follows: string[]
  lastSeen: string
}

import type { HostState } from '../core/index.js'
export { HOST_STATES, type HostState } from '../core/index.js'

export interface ReportRecord {
  schema: number
  hostId: string
  digest: Digest
  state: HostState
  bytesDone: number
  bytesFromPeers: number
  bytesFromOrigin: number
  /** Bytes derived from content the host held (absent: none, or a fetcher from before). */
  bytesDerived?: number
  peers: number
  rate: number
  errorCode?: string
  message?: string
  firstReportAt: string
  runningAt?: string
  at: string
}

export interface TrackerStore {
  start(): Promise<void>
  stop(): Promise<void>
  putBundle(b: Omit<BundleRecord, 'schema' | 'registeredAt' | 'seeders'> & { seeder?: string }): Promise<BundleRecord>
  getBundle(digest: Digest): Promise<BundleRecord | undefined>
  digestForInfoHash(infoHash: string): Promise<Digest | undefined>
  putVersion(v: Omit<VersionRecord, 'schema' | 'publishedAt'>): Promise<{ record: VersionRecord; created: boolean }>
  getVersion(release: string, version: string): Promise<VersionRecord | undefined>
  listVersions(release: string): Promise<VersionRecord[]>
  /** Every version of every release. */
  listAllVersions(): Promise<VersionRecord[]>
  /** Moves a channel; with a plan, the rollout record carries it and its starting progress, in the same write. */
  moveChannel(release: string, channel: string, version: string, by: string, plan?: RolloutPlan): Promise<{ channel: ChannelRecord; rollout: RolloutRecord }>
  /** One rollout record by its id (`release@channel#seq`). */
  getRollout(release: string, channel: string, id: string): Promise<RolloutRecord | undefined>
  /**
   * Writes a planned rollout's progress if its stored revision is still `expectRev` (replicas
   * driving the same rollout never overwrite each other's step); false otherwise.
   */
  setProgress(release: string, channel: string, id: string, progress: RolloutProgress, expectRev: number): Promise<boolean>
  getChannel(release: string, channel: string): Promise<ChannelRecord | undefined>
  listChannels(): Promise<ChannelRecord[]>
  rolloutHistory(release: string, channel: string): Promise<RolloutRecord[]>
  putHost(h: Omit<HostRecord, 'schema' | 'lastSeen'>): Promise<HostRecord>
  /** Forgets a host (a decommissioned machine); its reports stay. False when there was none. */
  deleteHost(id: string): Promise<boolean>
  getHost(id: string): Promise<HostRecord | undefined>
  hostCount(): Promise<number>
  listHosts(): Promise<HostRecord[]>
  putReport(r: Omit<ReportRecord, 'schema' | 'firstReportAt' | 'runningAt' | 'at'>): Promise<ReportRecord>
  reportsFor(digest: Digest): Promise<ReportRecord[]>
  getReport(hostId: string, digest: Digest): Promise<ReportRecord | undefined>
  /** The reports of these hosts on a digest (those that have one), in one round trip where the store has them. */
  reportsOf?(digest: Digest, hostIds: string[]): Promise<ReportRecord[]>
  /**
   * Changes written through *other* processes sharing this store (a store that only one process
   * opens has none and leaves this out): what wakes long-polls and event streams on every replica.
   */
  watch?(onChange: (change: StoreChange) => void): () => void
  /** Resolves when the store answers (a round trip to a shared database); STORE_UNAVAILABLE otherwise. */
  ping?(): Promise<void>
}

/** A change another replica wrote: a channel moved, hosts reported on a digest (which ones, when the note says), or a host (re)registered. */
export type StoreChange = { kind: 'move'; release: string; channel: string } | { kind: 'report'; digest: string; hosts?: string[] } | { kind: 'host'; id: string }

const checkRegistration = TypeCompiler.Compile(HostRegistrationSchema)

/** A stored host as the current schema allows it: labels or follows that fail it are dropped. */
export function saneHost(h: HostRecord): HostRecord {
  const labels = checkRegistration.Check({ labels: h.labels, follows: [] }) ? h.labels : {}
  const follows = Array.isArray(h.follows) ? h.follows.filter((f) => checkRegistration.Check({ labels: {}, follows: [f] })).slice(0, MAX_FOLLOWS) : []
  return { ...h, labels, follows }
}

export interface TrackerStoreInit {
  dataDir: string
  /** Crash points for tests (see core/failpoints); inert by default. */
  failpoints?: Failpoints
  /** Clock, for tests. */
  now?: () => Date
}

// Key layout: one keyspace, '!'-separated prefixes. Names never contain '!' (see core/names).
const K = {
  bundle: (d: Digest) => `bundle!${digestHex(d)}`,
  infoHash: (h: string) => `infohash!${h}`,
  version: (r: string, v: string) => `version!${r}!${v}`,
  channel: (r: string, c: string) => `channel!${r}!${c}`,
  rollout: (r: string, c: string, seq: number) => `rollout!${r}!${c}!${String(seq).padStart(12, '0')}`,
  host: (id: string) => `host!${id}`,
  report: (d: Digest, host: string) => `report!${digestHex(d)}!${host}`,
}

/** A planned rollout's record and its compare-and-set progress, on the level store's helpers. */
function plannedRollouts(
  get: <T>(key: string) => Promise<T | undefined>,
  put: (key: string, value: unknown) => Promise<void>,
  exclusive: <T>(fn: () => Promise<T>) => Promise<T>,
): Pick<TrackerStore, 'getRollout' | 'setProgress'> {
  return {
    getRollout: async (r, c, id) => {
      const seq = seqOfRollout(r, c, id)
      return seq === undefined ? undefined : get<RolloutRecord>(K.rollout(r, c, seq))
    },
    setProgress: (r, c, id, progress, expectRev) =>
      exclusive(async () => {
        const seq = seqOfRollout(r, c, id)
        const record = seq === undefined ? undefined : await get<RolloutRecord>(K.rollout(r, c, seq))
        if (!record?.progress || record.progress.rev !== expectRev) return false
        await put(K.rollout(r, c, seq!), { ...record, progress })
        return true
      }),
  }
}

/**
 * Registry and rollout state in `level` under dataDir. Every write is `sync: true`: once the
 * API has acknowledged it, a `kill -9` (or power loss) cannot take it back.
 */
export function createTrackerStore(init: TrackerStoreInit): TrackerStore {
  const now = init.now ?? (() => new Date())
  const fp = init.failpoints ?? NO_FAILPOINTS
  let db: Level<string, unknown> | undefined
  // Hosts and reports are read on every status request and written on every report; they are
  // mirrored in memory (loaded at start, written through), so reads never touch the disk.
  const hosts = new Map<string, HostRecord>()
  const reports = new Map<string, Map<string, ReportRecord>>() // digest hex -> host -> report
  // Consulted on every announce.
  const infoHashes = new Map<string, Digest>()

  const get = async <T>(key: string): Promise<T | undefined> => {
    const v = await db!.get(key)
    return v === undefined ? undefined : (v as T)
  }
  const range = async <T>(prefix: string): Promise<T[]> => {
    const out: T[] = []
    for await (const v of db!.values({ gt: prefix, lt: `${prefix}\xff` })) out.push(v as T)
    return out
  }
  // Every write passes 'tracker.store.disk' (stalled, a slow disk: nothing is acknowledged before it lands).
  const putAll = async (ops: Array<{ key: string; value: unknown }>): Promise<void> => {
    await fp.hit('tracker.store.disk')
    await db!.batch(ops.map((o) => ({ type: 'put' as const, ...o })), { sync: true })
  }
  const put = (key: string, value: unknown): Promise<void> => putAll([{ key, value }])
  // Serialises read-modify-write sequences (version immutability, channel moves).
  let queue: Promise<unknown> = Promise.resolve()
  const exclusive = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = queue.then(fn, fn)
    queue = run.catch(() => {})
    return run
  }

  return {
    async start() {
      if (db) return
      try {
        await mkdir(init.dataDir, { recursive: true })
        db = new Level<string, unknown>(`${init.dataDir}/registry`, { valueEncoding: 'json' })
        await db.open()
        // Records written before the host schema was enforced may hold anything: load what the
        // schema allows, so one bad record cannot break every listing after a restart.
        for (const h of await range<HostRecord>('host!')) hosts.set(h.id, saneHost(h))
        for (const b of await range<BundleRecord>('bundle!')) infoHashes.set(b.infoHash, b.digest)
        for (const r of await range<ReportRecord>('report!')) {
          const hex = digestHex(r.digest)
          if (!reports.has(hex)) reports.set(hex, new Map())
          reports.get(hex)!.set(r.hostId, r)
        }
      } catch (err) {
        db = undefined
        throw fromSystemError(err, 'open tracker state', init.dataDir)
      }
    },
    async stop() {
      const d = db
      db = undefined
      hosts.clear()
      reports.clear()
      infoHashes.clear()
      await queue
      await d?.close()
    },

    putBundle: (b) =>
      exclusive(async () => {
        const record = mergeBundle(await get<BundleRecord>(K.bundle(b.digest)), b, now().toISOString())
        await putAll([
          { key: K.bundle(b.digest), value: record },
          { key: K.infoHash(b.infoHash), value: b.digest },
        ])
        infoHashes.set(b.infoHash, b.digest)
        return record
      }),
    getBundle: (d) => get<BundleRecord>(K.bundle(d)),
    digestForInfoHash: async (h) => infoHashes.get(h.toLowerCase()),

    putVersion: (v) =>
      exclusive(async () => {
        const existing = await get<VersionRecord>(K.version(v.release, v.version))
        const published = publishVersion(existing, v, now().toISOString())
        if (published.created) await put(K.version(v.release, v.version), published.record)
        return published
      }),
    getVersion: (r, v) => get<VersionRecord>(K.version(r, v)),
    listVersions: (r) => range<VersionRecord>(`version!${r}!`),
    listAllVersions: () => range<VersionRecord>('version!'),

    moveChannel: (release, channel, version, by, plan) =>
      exclusive(async () => {
        const target = await get<VersionRecord>(K.version(release, version))
        if (!target) throw new NotFoundError(`Cannot move ${release}@${channel}: version ${version} is not published`, { details: { release, version } })
        const current = await get<ChannelRecord>(K.channel(release, channel))
        const history = await range<RolloutRecord>(`rollout!${release}!${channel}!`)
        const { channel: record, rollout } = channelMove({ release, channel, version, by, seq: history.length + 1, at: now().toISOString(), plan }, target, current)
        // One atomic batch: the move and its rollout record exist together or not at all.
        await fp.hit('tracker.move.before-write')
        await putAll([
          { key: K.rollout(release, channel, history.length + 1), value: rollout },
          { key: K.channel(release, channel), value: record },
        ])
        await fp.hit('tracker.move.after-write')
        return { channel: record, rollout }
      }),
    getChannel: (r, c) => get<ChannelRecord>(K.channel(r, c)),
    listChannels: () => range<ChannelRecord>('channel!'),
    rolloutHistory: (r, c) => range<RolloutRecord>(`rollout!${r}!${c}!`),
    ...plannedRollouts(get, put, exclusive),

    async putHost(h) {
      const record: HostRecord = { schema: RECORD_SCHEMA, ...h, lastSeen: now().toISOString() }
      await put(K.host(h.id), record)
      hosts.set(h.id, record)
      return record
    },
    async deleteHost(id) {
      if (!hosts.has(id)) return false
      await fp.hit('tracker.store.disk')
      await db!.batch([{ type: 'del', key: K.host(id) }], { sync: true })
      hosts.delete(id)
      return true
    },
    getHost: async (id) => hosts.get(id),
    hostCount: async () => hosts.size,
    listHosts: async () => [...hosts.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)),

    async putReport(r) {
      const key = K.report(r.digest, r.hostId)
      const hex = digestHex(r.digest)
      const previous = reports.get(hex)?.get(r.hostId)
      const at = now().toISOString()
      const record = reportRecord(r, previous, at)
      // The host's lastSeen is kept in memory only: a report is one synchronous write, not two.
      await fp.hit('tracker.report.before-write')
      await put(key, record)
      await fp.hit('tracker.report.after-write')
      if (!reports.has(hex)) reports.set(hex, new Map())
      reports.get(hex)!.set(r.hostId, record)
      const host = hosts.get(r.hostId)
      if (host) hosts.set(r.hostId, { ...host, lastSeen: at })
      return record
    },
    reportsFor: async (d) => [...(reports.get(digestHex(d))?.values() ?? [])],
    getReport: async (h, d) => reports.get(digestHex(d))?.get(h),
  }
}
