import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { NO_FAILPOINTS, NotFoundError, ShoalError, StoreUnavailableError, redactUrl, type Digest, type Failpoints } from '../core/index.js'
import { MIGRATIONS, MIGRATION_LOCK } from './postgres-migrations.js'
import { seqOfRollout, channelMove, mergeBundle, publishVersion, reportRecord } from './store-records.js'
import { RECORD_SCHEMA, saneHost, type BundleRecord, type ChannelRecord, type HostRecord, type ReportRecord, type RolloutRecord, type StoreChange, type TrackerStore, type VersionRecord } from './tracker-store.js'

export interface PostgresStoreInit {
  /** postgres://user:password@host:port/db (libpq's PG* environment variables fill what it leaves out). */
  url: string
  /** Connections this replica keeps at most (default 10). */
  maxConnections?: number
  failpoints?: Failpoints
  now?: () => Date
}

/** Codes under which PostgreSQL (or the socket to it) is away rather than the request wrong. */
function unavailable(err: unknown): boolean {
  const code = (err as { code?: string }).code ?? ''
  if (['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'ETIMEDOUT', 'EPIPE', 'ENOENT'].includes(code)) return true
  // 08: connection exception; 57P0x: admin shutdown, crash shutdown, cannot connect now; 53300: too many connections.
  if (code.startsWith('08') || /^57P0[1-3]$/.test(code) || code === '53300') return true
  return /Connection terminated|connection timeout|Client has encountered a connection error/i.test((err as Error).message ?? '')
}

/**
 * The tracker store on PostgreSQL, for a fleet: several stateless tracker replicas share one
 * database. Same contract as the level store (test/tracker/store-contract.ts runs on both) and
 * the same records (store-records.ts). Nothing is cached in the replica, so what one replica
 * wrote another reads at once. A write is acknowledged after COMMIT, which with PostgreSQL's
 * default synchronous_commit means the WAL is on disk. While PostgreSQL is away every call is
 * STORE_UNAVAILABLE (503) and the pool reconnects on its own.
 */
export function createPostgresStore(init: PostgresStoreInit): TrackerStore {
  const now = init.now ?? (() => new Date())
  const fp = init.failpoints ?? NO_FAILPOINTS
  let pool: pg.Pool | undefined

  const fail = (err: unknown, action: string): never => {
    if (err instanceof ShoalError) throw err
    if (unavailable(err)) {
      throw new StoreUnavailableError(`Cannot ${action}: PostgreSQL at ${redactUrl(init.url)} is not reachable (${(err as Error).message})`, { cause: err })
    }
    throw err
  }
  const db = (): pg.Pool => {
    if (!pool) throw new StoreUnavailableError('Cannot use the store: it is not started')
    return pool
  }
  const query = async <R extends pg.QueryResultRow>(action: string, sql: string, params: unknown[] = []): Promise<R[]> => {
    try {
      return (await db().query<R>(sql, params)).rows
    } catch (err) {
      return fail(err, action)
    }
  }
  /** One transaction; `lock` names an advisory lock held until it ends (serialises one key across replicas). */
  const transaction = async <T>(action: string, lock: string, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> => {
    let client: pg.PoolClient | undefined
    try {
      client = await db().connect()
      await client.query('BEGIN')
      await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [lock])
      const out = await fn(client)
      await fp.hit('tracker.store.disk')
      await client.query('COMMIT')
      return out
    } catch (err) {
      await client?.query('ROLLBACK').catch(() => {})
      return fail(err, action)
    } finally {
      client?.release()
    }
  }
  // Changes are announced on one NOTIFY channel, tagged with this store's id so it skips its own.
  const origin = randomBytes(6).toString('hex')
  const note = (change: StoreChange): string => JSON.stringify({ o: origin, ...change })
  const ctx: PgContext = { query, transaction, now, fp, note }
  const listener = createListener(init.url, origin)

  return {
    async start() {
      if (pool) return
      const p = new pg.Pool({ connectionString: init.url, max: init.maxConnections ?? 10, connectionTimeoutMillis: 5000 })
      // An idle client losing its connection (PostgreSQL restarting) must not crash the tracker.
      p.on('error', () => {})
      try {
        const c = await p.connect()
        try {
          await c.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK])
          await c.query('CREATE TABLE IF NOT EXISTS shoal_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())')
          const done = new Set((await c.query<{ version: number }>('SELECT version FROM shoal_migrations')).rows.map((r) => r.version))
          for (const m of MIGRATIONS) {
            if (done.has(m.version)) continue
            await c.query('BEGIN')
            await c.query(m.sql)
            await c.query('INSERT INTO shoal_migrations (version, name) VALUES ($1, $2)', [m.version, m.name])
            await c.query('COMMIT')
          }
        } finally {
          await c.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => {})
          c.release()
        }
      } catch (err) {
        await p.end().catch(() => {})
        fail(err, 'open the tracker store')
      }
      pool = p
    },
    async stop() {
      const p = pool
      pool = undefined
      await listener.close()
      await p?.end()
    },
    watch: (onChange) => listener.add(onChange),
    ping: async () => void (await query('answer a readiness check', 'SELECT 1')),

    ...registryOn(ctx),
    ...hostsOn(ctx),
  }
}

interface PgContext {
  query<R extends pg.QueryResultRow>(action: string, sql: string, params?: unknown[]): Promise<R[]>
  transaction<T>(action: string, lock: string, fn: (c: pg.PoolClient) => Promise<T>): Promise<T>
  now: () => Date
  fp: Failpoints
  /** The NOTIFY payload for a change this replica writes. */
  note(change: StoreChange): string
}

const CHANNEL = 'shoal_changes'

/**
 * One dedicated connection that LISTENs for other replicas' changes, opened with the first
 * watcher and reopened (1-10 s backoff) whenever PostgreSQL drops it. Payloads are checked: a
 * NOTIFY is plain text anyone with access to the database can send.
 */
function createListener(url: string, origin: string): { add(fn: (c: StoreChange) => void): () => void; close(): Promise<void> } {
  const watchers = new Set<(c: StoreChange) => void>()
  let client: pg.Client | undefined
  let closed = false
  let retry: NodeJS.Timeout | undefined
  let delay = 1000
  const deliver = (payload: string | undefined): void => {
    let c: { o?: unknown; kind?: unknown; release?: unknown; channel?: unknown; digest?: unknown; hosts?: unknown; id?: unknown }
    try {
      c = JSON.parse(payload ?? '') as typeof c
    } catch {
      return
    }
    if (c.o === origin) return
    let change: StoreChange | undefined
    if (c.kind === 'move' && typeof c.release === 'string' && typeof c.channel === 'string') change = { kind: 'move', release: c.release, channel: c.channel }
    if (c.kind === 'report' && typeof c.digest === 'string') {
      const hosts = Array.isArray(c.hosts) && c.hosts.length <= 200 && c.hosts.every((h) => typeof h === 'string' && h.length <= 256) ? (c.hosts as string[]) : undefined
      change = { kind: 'report', digest: c.digest, ...(hosts ? { hosts } : {}) }
    }
    if (c.kind === 'host' && typeof c.id === 'string' && c.id.length <= 256) change = { kind: 'host', id: c.id }
    if (change) for (const w of watchers) w(change)
  }
  const open = (): void => {
    if (closed || client) return
    const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 })
    client = c
    const lost = (): void => {
      if (client !== c) return
      client = undefined
      c.end().catch(() => {})
      if (!closed) retry = setTimeout(open, (delay = Math.min(delay * 2, 10_000)))
    }
    c.on('error', lost)
    c.on('end', lost)
    c.on('notification', (n) => deliver(n.payload))
    c.connect()
      .then(() => c.query(`LISTEN ${CHANNEL}`))
      .then(() => void (delay = 1000), lost)
  }
  return {
    add(fn) {
      watchers.add(fn)
      open()
      return () => void watchers.delete(fn)
    },
    async close() {
      closed = true
      clearTimeout(retry)
      const c = client
      client = undefined
      await c?.end().catch(() => {})
    },
  }
}

const records = <T>(rows: Array<{ record: unknown }>): T[] => rows.map((r) => r.record as T)

/** Bundles, versions, channels and their rollouts. */
const MAX_CACHED_INFOHASHES = 10_000

function registryOn({ query, transaction, now, fp, note }: PgContext): Omit<TrackerStore, 'start' | 'stop' | 'putHost' | 'deleteHost' | 'getHost' | 'hostCount' | 'listHosts' | 'putReport' | 'reportsFor' | 'getReport'> {
  const infoHashes = new Map<string, Digest>()
  return {
    putBundle: (b) =>
      transaction(`register bundle ${b.digest}`, `bundle:${b.digest}`, async (c) => {
        const existing = (await c.query<{ record: BundleRecord }>('SELECT record FROM bundles WHERE digest = $1', [b.digest])).rows[0]?.record
        const record = mergeBundle(existing, b, now().toISOString())
        await c.query(
          'INSERT INTO bundles (digest, info_hash, record) VALUES ($1, $2, $3) ON CONFLICT (digest) DO UPDATE SET record = EXCLUDED.record',
          [b.digest, b.infoHash.toLowerCase(), record],
        )
        return record
      }),
    getBundle: async (d) => records<BundleRecord>(await query('read a bundle', 'SELECT record FROM bundles WHERE digest = $1', [d]))[0],
    async digestForInfoHash(h) {
      // Asked on every announce. A registered infohash never changes digest (BUNDLE_CONFLICT), so a
      // hit is kept (bounded, oldest out first); a miss is not, since another replica may register it.
      const key = h.toLowerCase()
      const known = infoHashes.get(key)
      if (known) return known
      const digest = (await query<{ digest: Digest }>('look up an infohash', 'SELECT digest FROM bundles WHERE info_hash = $1', [key]))[0]?.digest
      if (digest) {
        if (infoHashes.size >= MAX_CACHED_INFOHASHES) infoHashes.delete(infoHashes.keys().next().value!)
        infoHashes.set(key, digest)
      }
      return digest
    },

    putVersion: (v) =>
      transaction(`publish ${v.release}@${v.version}`, `version:${v.release}@${v.version}`, async (c) => {
        const existing = (await c.query<{ record: VersionRecord }>('SELECT record FROM versions WHERE release = $1 AND version = $2', [v.release, v.version])).rows[0]?.record
        const published = publishVersion(existing, v, now().toISOString())
        if (published.created) await c.query('INSERT INTO versions (release, version, record) VALUES ($1, $2, $3)', [v.release, v.version, published.record])
        return published
      }),
    getVersion: async (r, v) => records<VersionRecord>(await query('read a version', 'SELECT record FROM versions WHERE release = $1 AND version = $2', [r, v]))[0],
    listVersions: async (r) => records<VersionRecord>(await query('list versions', 'SELECT record FROM versions WHERE release = $1 ORDER BY version', [r])),
    listAllVersions: async () => records<VersionRecord>(await query('list versions', 'SELECT record FROM versions ORDER BY release, version')),

    moveChannel: (release, channel, version, by, plan) =>
      transaction(`move ${release}@${channel}`, `channel:${release}@${channel}`, async (c) => {
        const target = (await c.query<{ record: VersionRecord }>('SELECT record FROM versions WHERE release = $1 AND version = $2', [release, version])).rows[0]?.record
        if (!target) throw new NotFoundError(`Cannot move ${release}@${channel}: version ${version} is not published`, { details: { release, version } })
        const current = (await c.query<{ record: ChannelRecord }>('SELECT record FROM channels WHERE release = $1 AND channel = $2', [release, channel])).rows[0]?.record
        const seq = Number((await c.query<{ n: string }>('SELECT count(*) AS n FROM rollouts WHERE release = $1 AND channel = $2', [release, channel])).rows[0]!.n) + 1
        const moved = channelMove({ release, channel, version, by, seq, at: now().toISOString(), plan }, target, current)
        await fp.hit('tracker.move.before-write')
        await c.query('INSERT INTO rollouts (release, channel, seq, record) VALUES ($1, $2, $3, $4)', [release, channel, seq, moved.rollout])
        await c.query('INSERT INTO channels (release, channel, record) VALUES ($1, $2, $3) ON CONFLICT (release, channel) DO UPDATE SET record = EXCLUDED.record', [release, channel, moved.channel])
        await c.query(`SELECT pg_notify('${CHANNEL}', $1)`, [note({ kind: 'move', release, channel })]) // delivered at COMMIT
        return moved
      }).then(async (moved) => {
        await fp.hit('tracker.move.after-write')
        return moved
      }),
    getChannel: async (r, c) => records<ChannelRecord>(await query('read a channel', 'SELECT record FROM channels WHERE release = $1 AND channel = $2', [r, c]))[0],
    listChannels: async () => records<ChannelRecord>(await query('list channels', 'SELECT record FROM channels ORDER BY release, channel')),
    rolloutHistory: async (r, c) => records<RolloutRecord>(await query('read rollout history', 'SELECT record FROM rollouts WHERE release = $1 AND channel = $2 ORDER BY seq', [r, c])),
    async getRollout(r, c, id) {
      const seq = seqOfRollout(r, c, id)
      if (seq === undefined) return undefined
      return records<RolloutRecord>(await query('read a rollout', 'SELECT record FROM rollouts WHERE release = $1 AND channel = $2 AND seq = $3', [r, c, seq]))[0]
    },
    async setProgress(r, c, id, progress, expectRev) {
      const seq = seqOfRollout(r, c, id)
      if (seq === undefined) return false
      await fp.hit('tracker.store.disk')
      // Compare-and-set on the revision: replicas driving one rollout never undo each other's step.
      const rows = await query<{ seq: number }>(
        `step rollout ${id}`,
        `WITH saved AS (UPDATE rollouts SET record = jsonb_set(record, '{progress}', $4::jsonb) WHERE release = $1 AND channel = $2 AND seq = $3 AND (record->'progress'->>'rev')::int = $5 RETURNING seq)
         SELECT seq, pg_notify('${CHANNEL}', $6) FROM saved`,
        [r, c, seq, JSON.stringify(progress), expectRev, note({ kind: 'move', release: r, channel: c })],
      )
      return rows.length > 0
    },

  }
}

/** Hosts and their reports. */
function hostsOn(ctx: PgContext): Pick<TrackerStore, 'putHost' | 'deleteHost' | 'getHost' | 'hostCount' | 'listHosts' | 'putReport' | 'reportsFor' | 'getReport' | 'reportsOf'> {
  const { query, now, fp, note } = ctx
  const reports = createReportWriter(ctx)
  return {
    async putHost(h) {
      const record: HostRecord = { schema: RECORD_SCHEMA, ...h, lastSeen: now().toISOString() }
      await fp.hit('tracker.store.disk')
      await query(`register host ${h.id}`, `WITH saved AS (INSERT INTO hosts (id, record) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET record = EXCLUDED.record) SELECT pg_notify('${CHANNEL}', $3)`, [h.id, record, note({ kind: 'host', id: h.id })])
      return record
    },
    async deleteHost(id) {
      await fp.hit('tracker.store.disk')
      const gone = await query<{ id: string }>(`forget host ${id}`, 'DELETE FROM hosts WHERE id = $1 RETURNING id', [id])
      if (gone.length > 0) await query('tell the replicas', `SELECT pg_notify('${CHANNEL}', $1)`, [note({ kind: 'host', id })])
      return gone.length > 0
    },
    getHost: async (id) => records<HostRecord>(await query('read a host', 'SELECT record FROM hosts WHERE id = $1', [id])).map(saneHost)[0],
    hostCount: async () => Number((await query<{ n: string }>('count hosts', 'SELECT count(*) AS n FROM hosts'))[0]!.n),
    listHosts: async () => records<HostRecord>(await query('list hosts', 'SELECT record FROM hosts ORDER BY id')).map(saneHost),

    async putReport(r) {
      const at = now().toISOString()
      await fp.hit('tracker.report.before-write')
      const record = await reports.put(r, at)
      await fp.hit('tracker.report.after-write')
      return record
    },
    reportsFor: async (d) => records<ReportRecord>(await query('read reports', 'SELECT record FROM reports WHERE digest = $1', [d])),
    getReport: async (h, d) => records<ReportRecord>(await query('read a report', 'SELECT record FROM reports WHERE digest = $1 AND host_id = $2', [d, h]))[0],
    reportsOf: async (d, hosts) => records<ReportRecord>(await query(`read ${hosts.length} reports`, 'SELECT record FROM reports WHERE digest = $1 AND host_id = ANY($2::text[])', [d, hosts])),
  }
}

type ReportInput = Parameters<TrackerStore['putReport']>[0]

/**
 * Reports at fleet rate: group commit. Reports that arrive while a write is on its way are
 * written together by the next one (one statement, one COMMIT, one WAL flush), so a busy tracker
 * makes fewer, larger writes and an idle one writes each report at once. Every caller is
 * answered only after the write holding its report has committed. Within one batch the same
 * host and digest twice keep the last report, as two writes in a row would.
 */
function createReportWriter({ query, fp, note }: PgContext, maxBatch = 500): { put(r: ReportInput, at: string): Promise<ReportRecord> } {
  type Entry = { r: ReportInput; at: string; resolve: (rec: ReportRecord) => void; reject: (err: unknown) => void }
  let queue: Entry[] = []
  let writing = false

  const write = async (batch: Entry[]): Promise<void> => {
    // The newest report per (digest, host), each built on the one before it in the batch.
    const last = new Map<string, { record: ReportRecord; entries: Entry[] }>()
    for (const e of batch) {
      const key = `${e.r.digest}\n${e.r.hostId}`
      const prev = last.get(key)
      last.set(key, { record: reportRecord(e.r, prev?.record, e.at), entries: [...(prev?.entries ?? []), e] })
    }
    // In key order, so that two replicas writing batches that share hosts take the row locks in the same order (no deadlock).
    const rows = [...last.values()].map(({ record }) => ({ digest: record.digest, host_id: record.hostId, record, at: record.at })).sort((a, b) => (a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : a.host_id < b.host_id ? -1 : a.host_id > b.host_id ? 1 : 0))
    // Each note names its hosts (at most 40, well under NOTIFY's 8,000 bytes), so other replicas read back only those.
    const byDigest = new Map<string, string[]>()
    for (const x of rows) byDigest.set(x.digest, [...(byDigest.get(x.digest) ?? []), x.host_id])
    const digests: string[] = []
    for (const [digest, hosts] of byDigest) for (let i = 0; i < hosts.length; i += 40) digests.push(note({ kind: 'report', digest, hosts: hosts.slice(i, i + 40) }))
    try {
      await fp.hit('tracker.store.disk')
      const saved = await query<{ digest: string; host_id: string; record: ReportRecord }>(
        `write ${rows.length} reports`,
        `WITH input AS (
           SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(digest text, host_id text, record jsonb, at text)
         ), saved AS (
           INSERT INTO reports (digest, host_id, record) SELECT digest, host_id, record FROM input
           ON CONFLICT (digest, host_id) DO UPDATE SET record = EXCLUDED.record
             || jsonb_build_object('firstReportAt', reports.record -> 'firstReportAt')
             || CASE WHEN reports.record ? 'runningAt' THEN jsonb_build_object('runningAt', reports.record -> 'runningAt') ELSE '{}'::jsonb END
           RETURNING digest, host_id, record
         ), seen AS (
           UPDATE hosts SET record = jsonb_set(hosts.record, '{lastSeen}', to_jsonb(input.at)) FROM input WHERE hosts.id = input.host_id
         ), told AS (
           SELECT pg_notify('${CHANNEL}', n) FROM unnest($2::text[]) AS n
         )
         SELECT digest, host_id, record FROM saved WHERE (SELECT count(*) FROM told) >= 0`,
        [JSON.stringify(rows), digests],
      )
      const stored = new Map(saved.map((x) => [`${x.digest}\n${x.host_id}`, x.record]))
      for (const [key, { entries }] of last) {
        const final = stored.get(key)!
        // Earlier reports of the same host in the batch: as written, with the times kept from before.
        for (const e of entries) e.resolve(e === entries.at(-1) ? final : { ...reportRecord(e.r, undefined, e.at), firstReportAt: final.firstReportAt })
      }
    } catch (err) {
      for (const e of batch) e.reject(err)
    }
  }

  const drain = async (): Promise<void> => {
    writing = true
    while (queue.length) {
      const batch = queue.slice(0, maxBatch)
      queue = queue.slice(batch.length)
      await write(batch)
    }
    writing = false
  }

  return {
    put(r, at) {
      return new Promise<ReportRecord>((resolve, reject) => {
        queue.push({ r, at, resolve, reject })
        // Whatever arrives in this turn joins the batch; while a write runs, the next one gathers.
        if (!writing) {
          writing = true
          setImmediate(() => void drain())
        }
      })
    },
  }
}
