import type { ApiClient, CallOptions } from './api-client.js'
import type { Digest } from './digest.js'
import { readBodyLimited } from './read-body-limited.js'
import {
  BundleAnswerSchema,
  ChannelListSchema,
  ChannelMoveSchema,
  ChannelRecordSchema,
  HistorySchema,
  HostListSchema,
  ReportRecordSchema,
  ArrivalsAnswerSchema,
  RetentionAnswerSchema,
  RolloutRecordSchema,
  RolloutStartAnswerSchema,
  RolloutStatusSchema,
  TargetsAnswerSchema,
  type RolloutStart,
  type RolloutStartAnswer,
  VersionRecordSchema,
  type BundleAnswer,
  type BundleRegistration,
  type ChannelRecord,
  type HostList,
  type HostReport,
  type ReportRecord,
  type ArrivalsAnswer,
  type RetentionAnswer,
  type RolloutRecord,
  type RolloutStatus,
  type TargetsAnswer,
  type VersionRecord,
} from './wire/index.js'

/** Largest .torrent read from the registry (it stores at most ~512 KiB of one). */
const MAX_TORRENT_BYTES = 1 << 20
const e = encodeURIComponent
type O = Pick<CallOptions, 'signal' | 'timeoutMs'>

/** The tracker's API, typed: every answer checked against its wire contract. */
export interface TrackerApi {
  readonly url: string
  /** The BitTorrent announce URLs with this client's passkey, one per replica (tried in order). */
  readonly announceUrls: readonly string[]
  registerHost(hostId: string, registration: { labels: Record<string, string>; follows: string[]; instance?: string }, o?: O): Promise<void>
  /**
   * A host's targets; with `since` (an etag), held until they differ or `waitSeconds` pass. With
   * `instance` (the fetcher process's id) the poll is its heartbeat for HOST_ID_IN_USE.
   */
  targets(hostId: string, since: string | undefined, waitSeconds: number, o?: O & { instance?: string }): Promise<TargetsAnswer>
  report(hostId: string, report: HostReport, o?: O): Promise<ReportRecord>
  hostReport(hostId: string, digest: Digest, o?: O): Promise<ReportRecord>
  hosts(o?: O): Promise<HostList>
  registerBundle(digest: Digest, registration: BundleRegistration, o?: O): Promise<void>
  bundle(digest: Digest, o?: O): Promise<BundleAnswer>
  torrent(digest: Digest, o?: O): Promise<Uint8Array>
  publishVersion(release: string, version: string, body: { digest: Digest; signature?: unknown }, o?: O): Promise<{ record: VersionRecord; created: boolean }>
  version(release: string, version: string, o?: O): Promise<VersionRecord>
  moveChannel(release: string, channel: string, version: string, o?: O): Promise<{ channel: ChannelRecord; rollout: RolloutRecord }>
  channel(release: string, channel: string, o?: O): Promise<ChannelRecord>
  channels(o?: O): Promise<ChannelRecord[]>
  history(release: string, channel: string, o?: O): Promise<RolloutRecord[]>
  status(release: string, channel: string, o?: O): Promise<RolloutStatus>
  /** Starts a planned rollout (or, with dryRun, only plans it). */
  startRollout(release: string, channel: string, body: RolloutStart, o?: O): Promise<RolloutStartAnswer>
  controlRollout(release: string, channel: string, action: 'pause' | 'resume' | 'abort', o?: O): Promise<RolloutRecord>
  /** The rollout's event stream (server-sent events): the raw answer, read by the caller. */
  events(release: string, channel: string, o?: O): Promise<Response>
  retention(keep: number, o?: O): Promise<RetentionAnswer>
  /** Swarms that gained a downloader after `after` (waits up to `waitSeconds` for one); seeder role. */
  arrivals(after: number, waitSeconds: number, o?: O): Promise<ArrivalsAnswer>
}

export function createTrackerApi(client: ApiClient, token: string): TrackerApi {
  return {
    get url() {
      return client.url
    },
    // Every replica in the order given, the same for every host: while peer lists are kept per
    // replica, a fleet announcing to the first reachable one forms one swarm, not one per replica.
    announceUrls: client.urls.map((u) => `${u}/announce/${token}`),
    async registerHost(hostId, registration, o) {
      await client.call('PUT', `/v1/hosts/${e(hostId)}`, { ...o, body: registration, retriable: true })
    },
    targets(hostId, since, waitSeconds, o = {}) {
      const { instance, ...call } = o
      const params = [...(since === undefined ? [] : [`since=${e(since)}`, `wait=${waitSeconds}`]), ...(instance ? [`instance=${e(instance)}`] : [])]
      const q = params.length ? `?${params.join('&')}` : ''
      return client.json('GET', `/v1/hosts/${e(hostId)}/targets${q}`, TargetsAnswerSchema, { timeoutMs: (waitSeconds + 15) * 1000, ...call }) as Promise<TargetsAnswer>
    },
    report: (hostId, report, o) => client.json('POST', `/v1/hosts/${e(hostId)}/reports`, ReportRecordSchema, { ...o, body: report }) as Promise<ReportRecord>,
    hostReport: (hostId, digest, o) => client.json('GET', `/v1/hosts/${e(hostId)}/reports/${digest}`, ReportRecordSchema, o) as Promise<ReportRecord>,
    hosts: (o) => client.json('GET', '/v1/hosts', HostListSchema, { timeoutMs: 60_000, ...o }),
    async registerBundle(digest, registration, o) {
      await client.call('PUT', `/v1/bundles/${digest}`, { timeoutMs: 30_000, ...o, body: registration, retriable: true })
    },
    bundle: (digest, o) => client.json('GET', `/v1/bundles/${digest}`, BundleAnswerSchema, o) as Promise<BundleAnswer>,
    async torrent(digest, o) {
      return readBodyLimited(await client.call('GET', `/v1/bundles/${digest}/torrent`, o), MAX_TORRENT_BYTES, `the torrent of ${digest}`)
    },
    async publishVersion(release, version, body, o) {
      const res = await client.call('PUT', `/v1/releases/${e(release)}/versions/${e(version)}`, { ...o, body })
      return { record: (await res.json()) as VersionRecord, created: res.status === 201 }
    },
    version: (release, version, o) => client.json('GET', `/v1/releases/${e(release)}/versions/${e(version)}`, VersionRecordSchema, o) as Promise<VersionRecord>,
    moveChannel: (release, channel, version, o) => client.json('PUT', `/v1/channels/${e(release)}/${e(channel)}`, ChannelMoveSchema, { ...o, body: { version } }) as Promise<{ channel: ChannelRecord; rollout: RolloutRecord }>,
    channel: (release, channel, o) => client.json('GET', `/v1/channels/${e(release)}/${e(channel)}`, ChannelRecordSchema, o) as Promise<ChannelRecord>,
    channels: async (o) => (await client.json('GET', '/v1/channels', ChannelListSchema, o)).channels as ChannelRecord[],
    history: async (release, channel, o) => (await client.json('GET', `/v1/channels/${e(release)}/${e(channel)}/history`, HistorySchema, o)).rollouts as RolloutRecord[],
    startRollout: (release, channel, body, o) => client.json('POST', `/v1/rollouts/${e(release)}/${e(channel)}`, RolloutStartAnswerSchema, { timeoutMs: 60_000, ...o, body }) as Promise<RolloutStartAnswer>,
    controlRollout: (release, channel, action, o) => client.json('POST', `/v1/rollouts/${e(release)}/${e(channel)}/${action}`, RolloutRecordSchema, o) as Promise<RolloutRecord>,
    status: (release, channel, o) => client.json('GET', `/v1/rollouts/${e(release)}/${e(channel)}/status`, RolloutStatusSchema, o) as Promise<RolloutStatus>,
    events: (release, channel, o) => client.call('GET', `/v1/rollouts/${e(release)}/${e(channel)}/events`, { timeoutMs: null, ...o, headers: { accept: 'text/event-stream' } }),
    retention: (keep, o) => client.json('GET', `/v1/retention?keep=${keep}`, RetentionAnswerSchema, { timeoutMs: 30_000, ...o }),
    arrivals: (after, waitSeconds, o) => client.json('GET', `/v1/swarms/arrivals?after=${after}&wait=${waitSeconds}`, ArrivalsAnswerSchema, { timeoutMs: (waitSeconds + 15) * 1000, ...o }),
  }
}
