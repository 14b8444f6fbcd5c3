import { BundleConflictError, VersionConflictError } from '../core/index.js'
import { startProgress, type RolloutPlan } from './plan-waves.js'
import { RECORD_SCHEMA, type BundleRecord, type ChannelRecord, type ReportRecord, type RolloutRecord, type TrackerStore, type VersionRecord } from './tracker-store.js'

/**
 * How records change, apart from where they are kept: every store backend (level on one box,
 * PostgreSQL for a fleet) builds its records with these, so they agree on what a write means.
 */

type BundleInput = Parameters<TrackerStore['putBundle']>[0]

/** A bundle registration merged into what is stored: same content, more web seeds and seeders. */
export function mergeBundle(existing: BundleRecord | undefined, b: BundleInput, at: string): BundleRecord {
  if (existing && (existing.infoHash !== b.infoHash || existing.size !== b.size)) {
    throw new BundleConflictError(`Cannot register bundle ${b.digest}: it is registered with infohash ${existing.infoHash} and size ${existing.size}`, {
      details: { digest: b.digest },
    })
  }
  const seeders = new Set(existing?.seeders ?? [])
  if (b.seeder) seeders.add(b.seeder)
  const record: BundleRecord = {
    schema: RECORD_SCHEMA,
    digest: b.digest,
    size: b.size,
    infoHash: b.infoHash,
    pieceLength: b.pieceLength,
    webSeeds: [...new Set([...(existing?.webSeeds ?? []), ...b.webSeeds])],
    seeders: [...seeders].sort(),
    registeredAt: existing?.registeredAt ?? at,
  }
  const torrent = b.torrent ?? existing?.torrent
  if (torrent) record.torrent = torrent
  return record
}

/** A channel moved to a published version: the new channel record and the rollout that says so. */
export function channelMove(
  move: { release: string; channel: string; version: string; by: string; seq: number; at: string; plan?: RolloutPlan },
  target: VersionRecord,
  current: ChannelRecord | undefined,
): { channel: ChannelRecord; rollout: RolloutRecord } {
  const { release, channel, version, by, seq, at, plan } = move
  const rollout: RolloutRecord = {
    schema: RECORD_SCHEMA,
    id: `${release}@${channel}#${seq}`,
    release,
    channel,
    fromVersion: current?.version ?? null,
    toVersion: version,
    digest: target.digest,
    fromDigest: current?.digest ?? null,
    by,
    at,
    ...(plan ? { gates: plan.gates, plan, progress: startProgress(at, by, `${plan.waves.length} waves, ${plan.waves.flat(2).length} hosts`) } : {}),
  }
  const record: ChannelRecord = { schema: RECORD_SCHEMA, release, channel, version, digest: target.digest, rolloutId: rollout.id, movedBy: by, movedAt: at }
  return { channel: record, rollout }
}

/** The sequence number in a rollout id `release@channel#seq` of that channel; undefined for anything else. */
export function seqOfRollout(release: string, channel: string, id: string): number | undefined {
  const prefix = `${release}@${channel}#`
  if (!id.startsWith(prefix) || !/^[1-9][0-9]{0,11}$/.test(id.slice(prefix.length))) return undefined
  return Number(id.slice(prefix.length))
}

type ReportInput = Parameters<TrackerStore['putReport']>[0]

/** A host's report as stored: when it first reported and first ran are kept from the previous one. */
export function reportRecord(r: ReportInput, previous: ReportRecord | undefined, at: string): ReportRecord {
  const record: ReportRecord = { schema: RECORD_SCHEMA, ...r, firstReportAt: previous?.firstReportAt ?? at, at }
  const runningAt = previous?.runningAt ?? (r.state === 'running' ? at : undefined)
  if (runningAt) record.runningAt = runningAt
  return record
}


type VersionInput = Parameters<TrackerStore['putVersion']>[0]

/**
 * A publish against what is stored: versions are immutable, so the same digest again is the
 * stored record (not created), another digest is VERSION_CONFLICT, and a new one is created now.
 */
export function publishVersion(existing: VersionRecord | undefined, v: VersionInput, at: string): { record: VersionRecord; created: boolean } {
  if (!existing) return { record: { schema: RECORD_SCHEMA, ...v, publishedAt: at }, created: true }
  if (existing.digest !== v.digest) {
    throw new VersionConflictError(`Cannot publish ${v.release}@${v.version}: it exists with digest ${existing.digest}, not ${v.digest}`, {
      details: { release: v.release, version: v.version, digest: existing.digest },
    })
  }
  return { record: existing, created: false }
}
