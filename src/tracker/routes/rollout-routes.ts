import { Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import { Gauge } from 'prom-client'
import {
  ERROR_RESPONSES,
  LimitReachedError,
  NameSchema,
  NotFoundError,
  RolloutRecordSchema,
  RolloutStartAnswerSchema,
  RolloutStartSchema,
  RolloutStatusSchema,
  type RolloutStart,
} from '../../core/index.js'
import { openEventStream } from '../event-stream.js'
import { planWaves, summarizePlan } from '../plan-waves.js'
import { createStatusFeed, type StatusFeed } from '../status-feed.js'
import { who, type TrackerContext } from '../tracker-context.js'


const RC = Type.Object({ release: NameSchema('release'), channel: NameSchema('channel') })

/**
 * Where rollouts stand: the status (shared computation, see createStatusCache), the same as
 * server-sent events (one feed per watched channel, shared by its streams; backpressure per
 * stream, see openEventStream), and the rollout gauge for /metrics.
 */
export function rolloutRoutes(app: FastifyInstance, ctx: TrackerContext): void {
  const { store, limits } = ctx
  let openStreams = 0
  new Gauge({ name: 'shoal_tracker_event_streams', help: 'Rollout event streams (dashboards, rollout status --watch) open on this replica', registers: [ctx.metrics], collect() { this.set(openStreams) } })
  const feeds = new Map<string, StatusFeed>()
  ctx.changes.on('change', () => {
    for (const f of feeds.values()) f.changed()
  })
  ctx.changes.on('liveness', () => {
    for (const f of feeds.values()) f.changed()
  })
  ctx.changes.on('report', (digest: string) => {
    for (const f of feeds.values()) f.changed(digest)
  })
  ctx.shuttingDown.addEventListener('abort', () => {
    for (const f of [...feeds.values()]) f.close()
    feeds.clear()
  })

  new Gauge({
    name: 'shoal_tracker_rollout_hosts',
    help: 'Hosts following each channel, by the state of their report for its current target',
    labelNames: ['release', 'channel', 'state'],
    registers: [ctx.metrics],
    async collect() {
      this.reset()
      for (const ch of await store.listChannels()) {
        const st = await ctx.statusOf(ch.release, ch.channel)
        for (const [state, n] of Object.entries(st.byState)) this.set({ release: ch.release, channel: ch.channel, state }, n)
      }
    },
  })

  /**
   * Starts a planned rollout: the channel moves to `version` and its hosts activate it in waves
   * (see planWaves), the plan stored with the rollout record in the same write. With `dryRun`,
   * only the plan is returned. A plain `PUT /v1/channels/...` stays one wave with no gates.
   */
  app.post<{ Params: { release: string; channel: string }; Body: RolloutStart }>(
    '/v1/rollouts/:release/:channel',
    { config: { roles: ['publisher'] }, schema: { params: RC, body: RolloutStartSchema, response: { 200: RolloutStartAnswerSchema, ...ERROR_RESPONSES } } },
    async (req) => {
      const { release, channel } = req.params
      const v = await store.getVersion(release, req.body.version)
      if (!v) throw new NotFoundError(`Cannot start a rollout of ${release}@${channel}: version ${req.body.version} is not published`, { details: { release, version: req.body.version } })
      const follow = `${release}@${channel}`
      const hosts = (await store.listHosts()).filter((h) => h.follows.includes(follow))
      const plan = planWaves(hosts, req.body.gates, v.digest)
      const summary = summarizePlan(plan, hosts)
      if (req.body.dryRun) return { dryRun: true, plan: summary }
      const moved = await store.moveChannel(release, channel, req.body.version, who(req), plan)
      ctx.invalidate(release, channel)
      ctx.changes.emit('change')
      return { dryRun: false, plan: summary, ...moved }
    },
  )

  for (const action of ['pause', 'resume', 'abort'] as const) {
    app.post<{ Params: { release: string; channel: string } }>(
      `/v1/rollouts/:release/:channel/${action}`,
      {
        config: { roles: ['publisher'] },
        schema: {
          description: { pause: 'Opens no further batch or wave (hosts already activating finish)', resume: 'Continues a paused rollout', abort: 'Ends the rollout: no further activation, and the hosts it activated go back to the version before (they hold it)' }[action],
          params: RC,
          response: { 200: RolloutRecordSchema, ...ERROR_RESPONSES },
        },
      },
      async (req) => {
        const r = await ctx.rollouts.control(req.params.release, req.params.channel, action, who(req))
        ctx.invalidate(req.params.release, req.params.channel)
        return r
      },
    )
  }

  app.get<{ Params: { release: string; channel: string } }>(
    '/v1/rollouts/:release/:channel/status',
    { config: { roles: ['viewer', 'publisher'] }, schema: { params: RC, response: { 200: RolloutStatusSchema, ...ERROR_RESPONSES } } },
    async (req) => ctx.statusOf(req.params.release, req.params.channel),
  )

  /**
   * The same status as server-sent events: one `status` event at once, then one whenever a
   * report or a channel move changes it, at most every statusCacheMs, and a comment line every
   * 15 s so proxies keep the stream open. Dashboards and `rollout status --watch` use it.
   */
  app.get<{ Params: { release: string; channel: string } }>(
    '/v1/rollouts/:release/:channel/events',
    { config: { roles: ['viewer', 'publisher'] }, schema: { params: RC, response: { 200: { description: 'text/event-stream of `status` events (RolloutStatus)', type: 'string' }, ...ERROR_RESPONSES } } },
    async (req, reply) => {
      const { release, channel } = req.params
      if (openStreams >= limits.maxStreams) throw new LimitReachedError(`Cannot open an event stream: ${limits.maxStreams} are open (the tracker's --max-streams)`, { details: { maxStreams: limits.maxStreams } })
      const first = await ctx.statusOf(release, channel) // a 404 before the stream starts
      // Headers set before the stream (CORS for another replica's dashboard) go out with it.
      const headers = Object.fromEntries(Object.entries(reply.getHeaders()).filter((e): e is [string, string] => typeof e[1] === 'string'))
      reply.hijack()
      openStreams++
      const stream = openEventStream(reply.raw, { stallMs: limits.streamStallMs, headers })
      stream.onEnd(() => openStreams--)
      const key = `${release}@${channel}`
      let feed = feeds.get(key)
      if (!feed) {
        feed = createStatusFeed({ read: (notBefore) => ctx.statusOf(release, channel, notBefore), intervalMs: Math.max(limits.statusCacheMs, 50), onIdle: () => feeds.delete(key) })
        feeds.set(key, feed)
      }
      feed.add(stream, JSON.stringify(first))
    },
  )
}
