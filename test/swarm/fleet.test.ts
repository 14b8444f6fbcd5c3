import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { startFleet, waitFor, type Fleet } from '../helpers/fleet.js'
import { useTempDirs } from '../helpers/temp-dir.js'

const tempDir = useTempDirs()
const fleets: Fleet[] = []
afterEach(() => {
  for (const f of fleets.splice(0)) f.kill()
})
const sha256File = async (p: string) => `sha256:${createHash('sha256').update(await readFile(p)).digest('hex')}`
const MiB = 1 << 20

describe('the swarm (real tracker, seeder and fetcher processes on loopback)', () => {
  it('1 tracker + 1 seeder + 8 fetchers: a 64 MiB bundle reaches every host, the origin uploads less than 2x its size', async () => {
    const fleet = await startFleet(await tempDir(), { hosts: 8 })
    fleets.push(fleet)
    const b = await fleet.publish('1.0.0', 64 * MiB)
    const s = await waitFor('8 hosts running', async () => {
      const st = await fleet.status()
      return st.byState.running === 8 && st
    }, 120_000)
    expect(s.percentRunning).toBe(100)
    for (const f of fleet.fetchers) expect(await sha256File(join(f.dataDir, 'cache', `${b.digest.slice(7)}.tar`))).toBe(b.digest)
    const uploaded = await fleet.seederMetric('shoal_seeder_uploaded_bytes_total')
    expect(uploaded).toBeGreaterThan(0)
    expect(uploaded).toBeLessThan(2 * b.size)
  }, 180_000)
})

const pieceCountOf = async (fleet: Fleet, digest: string): Promise<number> => {
  const b = await fleet.get(`/v1/bundles/${digest}`)
  return Math.ceil(b.size / b.pieceLength)
}
const reportOf = (fleet: Fleet, host: string, digest: string) => fleet.get(`/v1/hosts/${host}/reports/${digest}`)

describe('the swarm survives losing its parts', () => {
  it('the seeder killed mid-rollout: once it has sent every piece, the hosts finish from each other', async () => {
    const fleet = await startFleet(await tempDir(), { hosts: 6, fetcherArgs: ['--down-limit', '6MiB'] })
    fleets.push(fleet)
    const b = await fleet.publish('1.0.0', 32 * MiB)
    const pieces = await pieceCountOf(fleet, b.digest)
    await waitFor('the origin to deliver every piece once', async () => (await fleet.seederMetric('shoal_seeder_pieces_delivered')) >= pieces)
    const before = await fleet.status()
    fleet.seeder.child.kill('SIGKILL')
    expect(before.byState.running ?? 0).toBeLessThan(6) // the kill really is mid-rollout
    let last: unknown
    await waitFor('6 hosts running without the origin', async () => {
      const st = await fleet.status()
      last = st
      return st.byState.running === 6
    }, 120_000).catch(async (err: Error) => {
      // What each host says, so that a miss shows where the swarm stood.
      const reports = await Promise.all(fleet.fetchers.map((f) => reportOf(fleet, f.id, b.digest)))
      throw new Error(`${err.message}; status ${JSON.stringify(last)}; reports ${JSON.stringify(reports)}`)
    })
    for (const f of fleet.fetchers) expect(await sha256File(join(f.dataDir, 'cache', `${b.digest.slice(7)}.tar`))).toBe(b.digest)
  }, 180_000)

  it('the tracker killed mid-rollout: hosts with peers keep going, and report once it is back', async () => {
    const fleet = await startFleet(await tempDir(), { hosts: 4, fetcherArgs: ['--down-limit', '6MiB'] })
    fleets.push(fleet)
    const b = await fleet.publish('1.0.0', 32 * MiB)
    await waitFor('every host downloading', async () => {
      const reports = await Promise.all(fleet.fetchers.map((f) => reportOf(fleet, f.id, b.digest)))
      return reports.every((r) => r.state === 'downloading' && r.bytesDone > 0 && r.peers >= 2)
    })
    const port = new URL(fleet.tracker.url).port
    fleet.tracker.child.kill('SIGKILL')
    // Without a tracker, every host still completes: its peers are already connected.
    const { access } = await import('node:fs/promises')
    await waitFor('every host to hold the bundle with the tracker down', async () => {
      const held = await Promise.all(fleet.fetchers.map((f) => access(join(f.dataDir, 'cache', `${b.digest.slice(7)}.tar`)).then(() => true, () => false)))
      return held.every(Boolean)
    }, 120_000)
    await fleet.startTracker(port)
    const s = await waitFor('4 hosts reported running to the restarted tracker', async () => {
      const st = await fleet.status()
      return st.byState.running === 4 && st
    }, 120_000)
    expect(s.percentRunning).toBe(100)
  }, 240_000)

  it('a fetcher killed with kill -9 half way fetches less than 60% of the bundle after restart', async () => {
    const fleet = await startFleet(await tempDir(), { hosts: 1, fetcherArgs: ['--down-limit', '8MiB'] })
    fleets.push(fleet)
    const b = await fleet.publish('1.0.0', 32 * MiB)
    await waitFor('the host at 40%', async () => (await reportOf(fleet, 'host0', b.digest)).bytesDone >= 0.4 * b.size)
    fleet.fetchers[0]!.child.kill('SIGKILL')
    await fleet.startFetcher(0)
    const r = await waitFor('the host running after restart', async () => {
      const rep = await reportOf(fleet, 'host0', b.digest)
      return rep.state === 'running' && rep
    }, 120_000)
    const refetched = r.bytesFromPeers + r.bytesFromOrigin
    expect(refetched).toBeGreaterThan(0)
    expect(refetched).toBeLessThan(0.6 * b.size)
    expect(await sha256File(join(fleet.fetchers[0]!.dataDir, 'cache', `${b.digest.slice(7)}.tar`))).toBe(b.digest)
  }, 180_000)
})

const isRoot = process.getuid?.() === 0
describe('a host whose disk fills up', () => {
  it.skipIf(!isRoot)(`reports DISK_FULL, leaves no partial bundle, and recovers once space is back${isRoot ? '' : ' (SKIPPED: needs root to mount a tmpfs)'}`, async () => {
    const { execFileSync } = await import('node:child_process')
    const { mkdir, readdir } = await import('node:fs/promises')
    const dir = await tempDir()
    const disk = join(dir, 'disk')
    await mkdir(disk)
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=12m', 'tmpfs', disk])
    try {
      const fleet = await startFleet(dir, { hosts: 0 })
      fleets.push(fleet)
      await fleet.startFetcher(0, [], disk)
      const b = await fleet.publish('1.0.0', 24 * MiB)
      const failed = await waitFor('a DISK_FULL report', async () => {
        const r = await reportOf(fleet, 'host0', b.digest)
        return r.state === 'failed' && r
      })
      expect(failed.errorCode).toBe('DISK_FULL')
      // Nothing half-written is left behind: partial/ holds no bundle, cache/ holds nothing.
      await waitFor('partial/ to be empty', async () => (await readdir(join(disk, 'partial'))).filter((n) => n.endsWith('.tar')).length === 0, 10_000)
      expect(await readdir(join(disk, 'cache'))).toEqual([])
      execFileSync('mount', ['-o', 'remount,size=96m', disk])
      await waitFor('running once space is back', async () => (await reportOf(fleet, 'host0', b.digest)).state === 'running', 120_000)
      expect(await sha256File(join(disk, 'cache', `${b.digest.slice(7)}.tar`))).toBe(b.digest)
      fleet.kill()
    } finally {
      execFileSync('umount', ['-l', disk])
    }
  }, 180_000)
})
