import { Type } from '@sinclair/typebox'
import type { FastifyInstance, FastifyReply } from 'fastify'
import { Counter } from 'prom-client'
import {
  checkActsForHost,
  DigestSchema,
  ERROR_RESPONSES,
  HostDetailSchema,
  HostListSchema,
  HostRecordSchema,
  HostRegistrationSchema,
  HostReportSchema,
  InstanceSchema,
  LimitReachedError,
  NameSchema,
  ReportRecordSchema,
  TargetsAnswerSchema,
  type Digest,
  type HostDetail,
  type HostRegistration,
  type Target,
} from '../../core/index.js'
import { targetMode } from '../plan-waves.js'
import { notFound, type TrackerContext } from '../tracker-context.js'
import type { HostRecord, VersionRecord } from '../tracker-store.js'

const H = Type.Object({ host: NameSchema('host') })
type ReportBody = typeof HostReportSchema.static

/**
 * Hosts: registration (labels, follows), reports, and the targets long-poll. A host token acts
 * only for the host it names: every route here under /v1/hosts/:host checks it.
 */
export function hostRoutes(app: FastifyInstance, ctx: TrackerContext): void {
  const { store, limits } = ctx
  const reportsCounter = new Counter({ name: 'shoal_tracker_reports_total', help: 'Host reports accepted, by state', labelNames: ['state'], registers: [ctx.metrics] })
  app.addHook('preHandler', async (req) => {
    const host = (req.params as { host?: string } | undefined)?.host
    if (req.principal && host !== undefined) checkActsForHost(req.principal, host)
  })

  app.put<{ Params: { host: string }; Body: HostRegistration }>(
    '/v1/hosts/:host',
    { config: { roles: ['host'] }, schema: { params: H, body: HostRegistrationSchema, response: { 200: HostRecordSchema, ...ERROR_RESPONSES } } },
    async (req) => {
      if (!(await store.getHost(req.params.host)) && (await store.hostCount()) >= limits.maxHosts) {
        throw new LimitReachedError(`Cannot register host ${req.params.host}: the registry holds ${limits.maxHosts} hosts (the tracker's --max-hosts)`, { details: { maxHosts: limits.maxHosts } })
      }
      if (req.body.instance) ctx.instances.claim(req.params.host, req.body.instance)
      const record = await store.putHost({ id: req.params.host, labels: req.body.labels, follows: req.body.follows })
      ctx.status.hostChanged(record.id)
      return record
    },
  )

  /**
   * Every host with, per channel it follows, the state it reported for that channel's current
   * target (pending when it has not reported one), so `shoal hosts --state failed` is one call.
   */
  app.get('/v1/hosts', { config: { roles: ['viewer'] }, schema: { response: { 200: HostListSchema, ...ERROR_RESPONSES } } }, async () => {
    const channels = new Map((await store.listChannels()).map((c) => [`${c.release}@${c.channel}`, c]))
    const hosts = await Promise.all(
      (await store.listHosts()).map(async (h) => ({
        ...h,
        targets: await Promise.all(
          h.follows.map(async (f) => {
            const ch = channels.get(f)
            const r = ch ? await store.getReport(h.id, ch.digest) : undefined
            const reported = ch ? (r?.state ?? 'pending') : null
            const state = reported && reported !== 'failed' && ctx.isLost(h.id) ? 'lost' : reported
            return { follow: f, version: ch?.version ?? null, digest: ch?.digest ?? null, state, errorCode: r?.errorCode ?? null, bytesDone: r?.bytesDone ?? 0, at: r?.at ?? null }
          }),
        ),
      })),
    )
    return { hosts }
  })

  app.get<{ Params: { host: string } }>(
    '/v1/hosts/:host',
    { config: { roles: ['viewer'] }, schema: { params: H, response: { 200: HostDetailSchema, ...ERROR_RESPONSES } } },
    async (req) => hostDetail(store, (await store.getHost(req.params.host)) ?? notFound(`host ${req.params.host}`)),
  )

  app.delete<{ Params: { host: string } }>(
    '/v1/hosts/:host',
    { config: { roles: ['admin'] }, schema: { description: 'Forgets a decommissioned host (admin): it leaves every status; its reports stay. A fetcher still running under the id registers it again.', params: H, response: { 204: Type.Null(), ...ERROR_RESPONSES } } },
    async (req, reply) => {
      if (!(await store.deleteHost(req.params.host))) notFound(`host ${req.params.host}`)
      ctx.instances.forget(req.params.host)
      ctx.status.hostChanged(req.params.host)
      ctx.changes.emit('liveness')
      return reply.status(204).send()
    },
  )

  app.post<{ Params: { host: string }; Body: ReportBody }>(
    '/v1/hosts/:host/reports',
    { config: { roles: ['host'] }, schema: { params: H, body: HostReportSchema, response: { 200: ReportRecordSchema, ...ERROR_RESPONSES } } },
    async (req) => {
      const host = (await store.getHost(req.params.host)) ?? notFound(`host ${req.params.host} (register it with PUT /v1/hosts/${req.params.host} first)`)
      const b = req.body
      const report = await store.putReport({
        hostId: host.id,
        digest: b.digest as Digest,
        state: b.state,
        bytesDone: b.bytesDone,
        bytesFromPeers: b.bytesFromPeers,
        bytesFromOrigin: b.bytesFromOrigin,
        ...(b.bytesDerived ? { bytesDerived: b.bytesDerived } : {}),
        peers: b.peers,
        rate: b.rate,
        ...(b.errorCode ? { errorCode: b.errorCode } : {}),
        ...(b.message ? { message: b.message } : {}),
      })
      reportsCounter.inc({ state: b.state })
      ctx.status.reported(report)
      ctx.rollouts.poke()
      ctx.changes.emit('report', b.digest)
      return report
    },
  )
  app.get<{ Params: { host: string; digest: Digest } }>(
    '/v1/hosts/:host/reports/:digest',
    { config: { roles: ['viewer', 'host'] }, schema: { params: Type.Object({ host: NameSchema('host'), digest: DigestSchema }), response: { 200: ReportRecordSchema, ...ERROR_RESPONSES } } },
    async (req) => (await store.getReport(req.params.host, req.params.digest)) ?? notFound(`report of ${req.params.host} for ${req.params.digest}`),
  )

  /**
   * A host's targets: what it follows, each with the release, version, digest and signature it
   * needs. With `since` (the etag of the targets it has), the request is held until they change
   * or `wait` seconds pass (long-poll), so hosts learn of a move at once without polling fast.
   */
  app.get<{ Params: { host: string }; Querystring: { since?: string; wait?: number; instance?: string } }>(
    '/v1/hosts/:host/targets',
    {
      config: { roles: ['host'] },
      schema: {
        params: H,
        querystring: Type.Object({ since: Type.Optional(Type.String({ maxLength: 20_000 })), wait: Type.Optional(Type.Integer({ minimum: 0, maximum: 300 })), instance: Type.Optional(InstanceSchema) }, { additionalProperties: false }),
        response: { 200: TargetsAnswerSchema, ...ERROR_RESPONSES },
      },
    },
    async (req, reply) => {
      const host = (await store.getHost(req.params.host)) ?? notFound(`host ${req.params.host}`)
      // The poll is this process's heartbeat: held until the answer is sent or the client goes.
      if (req.query.instance) {
        const end = ctx.instances.poll(host.id, req.query.instance)
        reply.raw.once('close', end)
      }
      return heldTargets(ctx, host, req.query, reply)
    },
  )
}

/**
 * The targets answer, held while they equal `since` (up to `wait` s): changes are counted from
 * before the first read, so one that lands while the targets are being read is not missed.
 */
async function heldTargets(ctx: TrackerContext, host: HostRecord, query: { since?: string; wait?: number }, reply: FastifyReply): Promise<{ targets: Target[]; etag: string }> {
  let changed = 0
  let wake: (() => void) | undefined
  const onChange = (): void => {
    changed++
    wake?.()
  }
  ctx.changes.on('change', onChange)
  try {
    let current = await targetsOf(ctx, host)
    const wait = Math.min(query.wait ?? 0, ctx.limits.maxWatchSeconds)
    if (query.since !== undefined && query.since === current.etag && wait > 0) {
      const ac = new AbortController()
      const timer = setTimeout(() => ac.abort(), wait * 1000)
      // The response's 'close' fires when the client goes away (the request's fires as soon
      // as its body is read); a closing server ends every held request at once.
      reply.raw.once('close', () => ac.abort())
      const onShutdown = (): void => ac.abort()
      ctx.shuttingDown.addEventListener('abort', onShutdown, { once: true })
      ac.signal.addEventListener('abort', () => ctx.shuttingDown.removeEventListener('abort', onShutdown), { once: true })
      ac.signal.addEventListener('abort', () => wake?.(), { once: true })
      try {
        while (current.etag === query.since && !ac.signal.aborted) {
          if (changed === 0) await new Promise<void>((resolve) => (wake = resolve))
          wake = undefined
          if (ac.signal.aborted) break
          changed = 0
          current = await targetsOf(ctx, host)
        }
      } finally {
        clearTimeout(timer)
      }
    }
    void reply.header('etag', current.etag)
    return current
  } finally {
    ctx.changes.off('change', onChange)
  }
}

/** GET /v1/hosts/:host: per followed channel its last 20 moves, newest first, each with this host's report. */
async function hostDetail(store: TrackerContext['store'], host: HostRecord): Promise<HostDetail> {
  const channels = await Promise.all(
    host.follows.map(async (follow) => {
      const at = follow.indexOf('@')
      const history = await store.rolloutHistory(follow.slice(0, at), follow.slice(at + 1))
      const moves = await Promise.all(
        history
          .slice(-20)
          .reverse()
          .map(async (m) => ({ version: m.toVersion, digest: m.digest, by: m.by, at: m.at, report: (await store.getReport(host.id, m.digest)) ?? null })),
      )
      return { follow, moves }
    }),
  )
  return { ...host, channels }
}

/**
 * Published versions are immutable, so their records (for the signature a target carries) are
 * kept once read: a targets answer then reads no version from the store, whatever the fleet's
 * size (most recently used 4,096; a version not found yet is never remembered).
 */
const versionCache = new WeakMap<TrackerContext, Map<string, VersionRecord>>()
async function versionOf(ctx: TrackerContext, release: string, version: string): Promise<VersionRecord | undefined> {
  let cache = versionCache.get(ctx)
  if (!cache) versionCache.set(ctx, (cache = new Map()))
  const key = `${release}@${version}`
  const hit = cache.get(key)
  if (hit) {
    cache.delete(key)
    cache.set(key, hit)
    return hit
  }
  const v = await ctx.store.getVersion(release, version)
  if (!v) return undefined
  cache.set(key, v)
  if (cache.size > 4096) cache.delete(cache.keys().next().value!)
  return v
}

/**
 * A host's current targets and their etag. Under a planned rollout a host is told, per its place in
 * the plan, to run the new version, to stage it while holding the one before, or to run the one
 * before (after a rollback); see targetMode.
 */
async function targetsOf(ctx: TrackerContext, host: HostRecord): Promise<{ targets: Target[]; etag: string }> {
  const targets: Target[] = []
  const modes: string[] = []
  for (const f of host.follows) {
    const [release, channel] = f.split('@') as [string, string]
    const ch = await ctx.store.getChannel(release, channel)
    if (!ch) continue
    const planned = await ctx.rollouts.planned(ch)
    const r = planned?.record
    const previous = r?.fromDigest && r.fromVersion ? { version: r.fromVersion, digest: r.fromDigest } : undefined
    const mode = planned ? targetMode(planned.index.get(host.id), planned.record.progress, previous !== undefined) : 'new'
    const pick = mode === 'old' ? previous! : { version: ch.version, digest: ch.digest }
    const v = await versionOf(ctx, release, pick.version)
    const target: Target = { follow: f, release, version: pick.version, digest: pick.digest, rolloutId: ch.rolloutId, ...(v?.signature !== undefined ? { signature: v.signature } : {}) }
    if (mode === 'stage') {
      target.activate = false
      if (previous) {
        const pv = await versionOf(ctx, release, previous.version)
        target.hold = { ...previous, ...(pv?.signature !== undefined ? { signature: pv.signature } : {}) }
      }
    }
    targets.push(target)
    modes.push(mode[0]!)
  }
  // The digest is part of it: rollout ids start again at #1 on a tracker that lost its state,
  // and a host holding the old etag would then never see the new target.
  const etag = targets.map((t, i) => `${t.follow}=${t.rolloutId}:${t.digest.slice(7, 23)}:${modes[i]}`).join(',')
  return { targets, etag }
}
