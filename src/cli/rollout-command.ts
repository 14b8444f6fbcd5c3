import type { Command } from 'commander'
import { checkAnswer, createApiClient, DEFAULT_GATES, createTrackerApi, NotFoundError, ResponseInvalidError, RolloutStatusSchema, ShoalError, type TrackerApi } from '../core/index.js'
import { untilSignal, usage, writeJson, type CliIo } from './cli-context.js'
import { resolveFetch, resolveToken, withClientOptions, type ClientOptions } from './client-options.js'
import { renderPlan, renderRolloutStatus, type RolloutStatusView } from './render-rollout.js'

interface ApiOptions extends ClientOptions {
  tracker: string
}

async function trackerFor(opts: ApiOptions, io: CliIo): Promise<TrackerApi> {
  const token = await resolveToken(opts, io, 'read the tracker', 'a viewer')
  return createTrackerApi(createApiClient({ url: opts.tracker, token, server: 'tracker', fetch: await resolveFetch(opts, io) }), token)
}

/** Largest event a stream may send: a status is a few KB (the tracker bounds it). */
const MAX_EVENT_BYTES = 4 << 20

/** Reads a server-sent event stream of `status` events; resolves true when `onStatus` says stop. */
async function watchEvents(api: TrackerApi, release: string, channel: string, onStatus: (s: RolloutStatusView) => boolean, signal: AbortSignal): Promise<boolean> {
  const mine = new AbortController()
  const r = await api.events(release, channel, { signal: AbortSignal.any([signal, mine.signal]) })
  if (!r.body) return false
  const decoder = new TextDecoder()
  let buffer = ''
  const reader = r.body.getReader()
  for (;;) {
    const { value, done } = await reader.read()
    if (done) return false
    buffer += decoder.decode(value, { stream: true })
    if (buffer.length > MAX_EVENT_BYTES) {
      mine.abort()
      throw new ResponseInvalidError(`Cannot read the rollout's event stream: an event is longer than ${MAX_EVENT_BYTES} bytes`)
    }
    let at: number
    while ((at = buffer.indexOf('\n\n')) >= 0) {
      const event = buffer.slice(0, at)
      buffer = buffer.slice(at + 2)
      const data = event.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n')
      if (data && onStatus(checkAnswer(RolloutStatusSchema, JSON.parse(data), 'a status event') as RolloutStatusView)) {
        mine.abort() // ends the stream and frees the connection
        return true
      }
    }
  }
}

const target = (rc: string): [string, string] => {
  const [r, c, ...rest] = rc.split('@')
  if (!r || !c || rest.length) throw usage(`Cannot read "${rc}": write release@channel`)
  return [r, c]
}

const withApi = (c: Command): Command => withClientOptions(c.requiredOption('--tracker <urls>', 'tracker base URL, or several replicas\' separated by commas (failover)'), 'viewer').option('--json', 'print JSON')

/** Text from the network for a terminal: control characters (escape sequences) shown as '?'. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const printable = (s: string): string => s.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?')

/** `60s`, `2m`, `1h` or plain seconds. */
export function parseSeconds(text: string): number {
  const m = /^([0-9]{1,7})(s|m|h)?$/.exec(text.trim())
  if (!m) throw usage(`Cannot read the duration "${text}": write seconds (90), or 30s, 2m, 1h`)
  return Number(m[1]) * { s: 1, m: 60, h: 3600 }[(m[2] ?? 's') as 's' | 'm' | 'h']
}

export function registerRollout(program: Command, io: CliIo): void {
  const publisherApi = async (opts: ApiOptions, rc: string, what: string): Promise<TrackerApi> => {
    const token = await resolveToken(opts, io, `${what} ${rc}`, 'a publisher')
    return createTrackerApi(createApiClient({ url: opts.tracker, token, server: 'tracker', fetch: await resolveFetch(opts, io) }), token)
  }
  const rollout = program.command('rollout').description('Rollouts: start one in waves, see where they stand (status, list, history), pause, resume, abort, undo')
  withApi(rollout.command('status').argument('<release@channel>').option('--watch', 'keep updating (redraws on a terminal, prints changes in a pipe; in a pipe it ends when every host is done)').option('--next', 'with --watch: skip the rollout in place when the watch starts and follow the next move of the channel to its end (start it before a publish)'))
    .description('One screen for a rollout: hosts by state, % running, time to running, ETA, stragglers, failures, origin offload')
    .action(async (rc: string, opts: ApiOptions & { json?: boolean; watch?: boolean; next?: boolean }) => {
      const [r, c] = target(rc)
      const api = await trackerFor(opts, io)
      const read = () => api.status(r, c)
      const tty = (io.stdout as NodeJS.WriteStream).isTTY === true
      if (!opts.watch) {
        const s = await read()
        return opts.json ? writeJson(io, s) : void io.stdout.write(renderRolloutStatus(s, { width: (io.stdout as NodeJS.WriteStream).columns }))
      }
      const stop = new AbortController()
      void untilSignal().then(() => stop.abort())
      let last = ''
      // --next: the rollout in place at the start (if any) is not the one to follow.
      let skip: string | null | undefined = opts.next ? undefined : null
      const show = (s: RolloutStatusView): boolean => {
        // The rollout is told apart by its id and digest (ids start again on a tracker that lost its state).
        const id = `${s.rolloutId ?? ''} ${s.digest}`
        if (skip === undefined) skip = id
        if (skip !== null && id === skip) {
          if (!last) io.stderr.write(`waiting for the next move of ${rc} (now ${s.version})\n`)
          last = ' '
          return false
        }
        const text = opts.json ? `${JSON.stringify(s)}\n` : renderRolloutStatus(s, { width: (io.stdout as NodeJS.WriteStream).columns })
        // Redraw in place (home, then clear below) so the screen does not flicker; in a pipe,
        // only a changed status is printed, and the watch ends when every host is done.
        if (tty && !opts.json) io.stdout.write(`\x1b[H\x1b[J${text}`)
        else if (text !== last) io.stdout.write(text)
        last = text
        // A planned rollout that halted or was aborted has ended too (its staged hosts never run it).
        const ended = s.plan ? ['halted', 'aborted'].includes(s.plan.progress.state) : false
        return !tty && s.hosts > 0 && (ended || (s.byState.running ?? 0) + (s.byState.failed ?? 0) + (s.byState.unhealthy ?? 0) + (s.byState.lost ?? 0) === s.hosts)
      }
      // The tracker's event stream pushes every change; if it breaks, reconnect after a second.
      let toldMissing = false
      while (!stop.signal.aborted) {
        const done = await watchEvents(api, r, c, show, stop.signal).catch((err: unknown) => {
          if (err instanceof ShoalError && err.kind === 'auth') throw err
          if (err instanceof ShoalError && err.code === 'NOT_FOUND') {
            // Said once, not silently: the channel appears with its first move.
            if (!toldMissing) io.stderr.write(`${rc} does not exist yet: waiting for its first move (Ctrl-C to stop)\n`)
            toldMissing = true
            if (skip === undefined) skip = null // its first move is the next one
          }
          return false
        })
        if (done) break
        await new Promise((res) => setTimeout(res, 1000))
      }
    })
  withApi(rollout.command('list'))
    .description('Every channel: its target version and how far its rollout is')
    .action(async (opts: ApiOptions & { json?: boolean }) => {
      const api = await trackerFor(opts, io)
      const channels = await api.channels()
      const rows = await Promise.all(channels.map(async (ch) => ({ ...ch, status: await api.status(ch.release, ch.channel) })))
      if (opts.json) return writeJson(io, { rollouts: rows.map((x) => x.status) })
      for (const x of rows) io.stdout.write(`${`${x.release}@${x.channel}`.padEnd(30)} ${x.version.padEnd(16)} ${String(x.status.percentRunning).padStart(3)}% running  ${x.status.byState.failed ?? 0} failed  ${x.status.byState.unhealthy ?? 0} unhealthy  ${x.status.byState.lost ?? 0} lost${x.status.plan ? `  plan ${x.status.plan.progress.state}` : ''}  moved ${x.movedAt}\n`)
      if (!rows.length) io.stdout.write('no channels yet\n')
    })
  withApi(rollout.command('history').argument('<release@channel>'))
    .description('Every move of a channel: from, to, who, when')
    .action(async (rc: string, opts: ApiOptions & { json?: boolean }) => {
      const [r, c] = target(rc)
      const h = { rollouts: await (await trackerFor(opts, io)).history(r, c) }
      if (opts.json) return writeJson(io, h)
      for (const m of h.rollouts) {
        const planned = m.progress ? `  [${m.progress.state}${m.progress.rolledBack ? ', rolled back' : ''}]` : ''
        io.stdout.write(`${m.at}  ${(m.fromVersion ?? '(none)').padEnd(16)} -> ${m.toVersion.padEnd(16)} by ${printable(m.by)}${planned}\n`)
        for (const e of m.progress?.events ?? []) io.stdout.write(`    ${e.at}  ${printable(e.what)}${e.by !== 'tracker' ? ` by ${printable(e.by)}` : ''}${e.detail ? `: ${printable(e.detail)}` : ''}\n`)
      }
    })
  withApi(rollout.command('start').argument('<release@channel>'))
    .description('Move the channel to a version in waves: every host stages it at once, then hosts activate wave by wave, spread across a fault-domain label, each wave healthy for the bake time before the next; needs a publisher token')
    .requiredOption('--to <version>', 'the published version to roll out')
    .option('--waves <sizes>', 'cumulative wave sizes: host counts or shares of the hosts', DEFAULT_GATES.waves.join(','))
    .option('--by <label>', 'fault-domain label to spread each wave across (rack, zone)')
    .option('--max-unavailable <n|p%>', 'most hosts of one fault domain out of service at once', DEFAULT_GATES.maxUnavailable)
    .option('--bake <duration>', 'how long a wave must stay healthy before the next opens (30s, 2m)', `${DEFAULT_GATES.bakeSeconds}s`)
    .option('--halt-after <n|p%>', 'failures in a wave (failed, unhealthy, lost) that halt the rollout', DEFAULT_GATES.haltAfter)
    .option('--auto-rollback', 'on a halt, send the hosts it activated back to the version before (they hold it: no download)')
    .option('--dry-run', 'show the plan and change nothing')
    .action(async (rc: string, opts: ApiOptions & { json?: boolean; to: string; waves: string; by?: string; maxUnavailable: string; bake: string; haltAfter: string; autoRollback?: boolean; dryRun?: boolean }) => {
      const [r, c] = target(rc)
      const api = await publisherApi(opts, rc, opts.dryRun ? 'plan a rollout of' : 'start a rollout of')
      const gates = {
        waves: opts.waves.split(',').map((w) => w.trim()).filter(Boolean),
        ...(opts.by ? { by: opts.by } : {}),
        maxUnavailable: opts.maxUnavailable,
        bakeSeconds: parseSeconds(opts.bake),
        haltAfter: opts.haltAfter,
        autoRollback: opts.autoRollback === true,
      }
      const a = await api.startRollout(r, c, { version: opts.to, gates, ...(opts.dryRun ? { dryRun: true } : {}) })
      if (opts.json) return writeJson(io, a)
      io.stdout.write(renderPlan(a.plan))
      if (a.dryRun) io.stdout.write('dry run: nothing changed\n')
      else io.stdout.write(`${rc} -> ${printable(opts.to)} (rollout ${a.rollout!.id}); every host stages it now, wave 1 activates; follow it with: shoal rollout status ${rc} --watch\n`)
    })
  for (const [action, what] of [['pause', 'Open no further batch or wave (hosts already activating finish)'], ['resume', 'Continue a paused rollout'], ['abort', 'End the rollout: no further activation, and the hosts it activated go back to the version before']] as const) {
    withApi(rollout.command(action).argument('<release@channel>'))
      .description(`${what}; recorded in the history; needs a publisher token`)
      .action(async (rc: string, opts: ApiOptions & { json?: boolean }) => {
        const [r, c] = target(rc)
        const rec = await (await publisherApi(opts, rc, `${action} the rollout of`)).controlRollout(r, c, action)
        if (opts.json) return writeJson(io, rec)
        io.stdout.write(`${rec.id}: ${rec.progress?.state}${rec.progress?.rolledBack ? ' (activated hosts go back to ' + printable(rec.fromVersion ?? '') + ')' : ''}\n`)
      })
  }
  withApi(rollout.command('undo').argument('<release@channel>'))
    .description('Move the channel back to the version it had before its last move (recorded in the history like any move); needs a publisher token')
    .action(async (rc: string, opts: ApiOptions & { json?: boolean }) => {
      const [r, c] = target(rc)
      const token = await resolveToken(opts, io, `undo the last move of ${rc}`, 'a publisher')
      const api = createTrackerApi(createApiClient({ url: opts.tracker, token, server: 'tracker', fetch: await resolveFetch(opts, io) }), token)
      const last = (await api.history(r, c)).at(-1)
      if (!last) throw new NotFoundError(`Cannot undo ${rc}: the channel has never moved`)
      if (last.fromVersion === null) throw new NotFoundError(`Cannot undo ${rc}: its only move set it to ${last.toVersion}; there is no version before`)
      const moved = await api.moveChannel(r, c, last.fromVersion)
      if (opts.json) return writeJson(io, moved)
      io.stdout.write(`${rc}: ${printable(last.toVersion)} -> ${printable(moved.channel.version)} (rollout ${moved.rollout.id}); hosts whose cache still holds it switch back without downloading\n`)
    })
}

export function registerHosts(program: Command, io: CliIo): void {
  withApi(program.command('hosts'))
    .description('Hosts, their labels and the state of each target they follow')
    .option('--label <k=v>', 'only hosts with this label')
    .option('--state <state>', 'only hosts with a target in this state (lost: not heard from for the tracker\'s --lost-after)')
    .action(async (opts: ApiOptions & { json?: boolean; label?: string; state?: string }) => {
      type Host = { id: string; labels: Record<string, string>; lastSeen: string; targets: { follow: string; version: string | null; state: string | null; errorCode: string | null }[] }
      let { hosts } = (await (await trackerFor(opts, io)).hosts()) as { hosts: Host[] }
      if (opts.label) {
        const [k, v] = opts.label.split('=')
        hosts = hosts.filter((h) => h.labels[k!] === v)
      }
      if (opts.state) hosts = hosts.filter((h) => h.targets.some((t) => t.state === opts.state))
      if (opts.json) return writeJson(io, { hosts })
      if (!hosts.length) return void io.stdout.write('no hosts match\n')
      // One row per host and followed channel, under a header; '-' where there is nothing yet.
      const rows = [['HOST', 'LABELS', 'FOLLOWS', 'VERSION', 'STATE', 'LAST SEEN']]
      for (const h of hosts) {
        const labels = printable(Object.entries(h.labels).map(([k, v]) => `${k}=${v}`).join(',')) || '-'
        const targets = h.targets.length ? h.targets : [{ follow: '-', version: null, state: null, errorCode: null }]
        targets.forEach((t, i) => rows.push([i === 0 ? printable(h.id) : '', i === 0 ? labels : '', printable(t.follow), printable(t.version ?? '-'), t.state === null ? (t.follow !== '-' && t.version === null ? 'no channel yet' : '-') : `${t.state}${t.errorCode ? ` (${printable(t.errorCode)})` : ''}`, i === 0 ? h.lastSeen : '']))
      }
      const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)))
      for (const r of rows) io.stdout.write(`${r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join('  ')}\n`)
    })
}
