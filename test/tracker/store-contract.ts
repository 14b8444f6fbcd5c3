import { describe, expect, it } from 'vitest'
import type { Digest } from '../../src/core/index.js'
import type { TrackerStore } from '../../src/tracker/index.js'

const D = (n: number): Digest => `sha256:${n.toString(16).padStart(64, '0')}`
const IH = (n: number): string => n.toString(16).padStart(40, '0')

/**
 * The tracker store's contract (STYLE rule 12): every implementation runs these. `make` gives a
 * fresh store and a way to reopen the same data (a restart); `now` may be advanced by the test.
 */
export function storeContract(name: string, make: () => Promise<{ open(): TrackerStore; clock: { now: Date } }>): void {
  describe(`${name} tracker store (contract)`, () => {
    const fresh = async (): Promise<{ store: TrackerStore; reopen: () => Promise<TrackerStore>; clock: { now: Date } }> => {
      const m = await make()
      let store = m.open()
      await store.start()
      return {
        store,
        clock: m.clock,
        reopen: async () => {
          await store.stop()
          store = m.open()
          await store.start()
          return store
        },
      }
    }

    it('bundles: registered once per digest; the same facts again merge seeders and web seeds; other facts are BUNDLE_CONFLICT', async () => {
      const { store } = await fresh()
      const b = await store.putBundle({ digest: D(1), size: 100, infoHash: IH(1), pieceLength: 65536, webSeeds: ['http://a/x'], seeder: 's1', torrent: 'dG9y' })
      expect(b).toMatchObject({ schema: 1, digest: D(1), size: 100, infoHash: IH(1), seeders: ['s1'], webSeeds: ['http://a/x'], torrent: 'dG9y' })
      const again = await store.putBundle({ digest: D(1), size: 100, infoHash: IH(1), pieceLength: 65536, webSeeds: ['http://b/x', 'http://a/x'], seeder: 's0' })
      expect(again).toMatchObject({ seeders: ['s0', 's1'], webSeeds: ['http://a/x', 'http://b/x'], torrent: 'dG9y', registeredAt: b.registeredAt })
      await expect(store.putBundle({ digest: D(1), size: 101, infoHash: IH(1), pieceLength: 65536, webSeeds: [] })).rejects.toMatchObject({ code: 'BUNDLE_CONFLICT' })
      await expect(store.putBundle({ digest: D(1), size: 100, infoHash: IH(2), pieceLength: 65536, webSeeds: [] })).rejects.toMatchObject({ code: 'BUNDLE_CONFLICT' })
      expect(await store.getBundle(D(1))).toMatchObject({ seeders: ['s0', 's1'] })
      expect(await store.getBundle(D(2))).toBeUndefined()
      expect(await store.digestForInfoHash(IH(1))).toBe(D(1))
      expect(await store.digestForInfoHash(IH(1).toUpperCase())).toBe(D(1))
      expect(await store.digestForInfoHash(IH(2))).toBeUndefined()
      const noTorrent = await store.putBundle({ digest: D(3), size: 1, infoHash: IH(3), pieceLength: 16384, webSeeds: [] })
      expect(noTorrent.torrent).toBeUndefined()
      expect(noTorrent.seeders).toEqual([])
    })

    it('versions are immutable: created once, the same digest again is not created, another digest is VERSION_CONFLICT', async () => {
      const { store, clock } = await fresh()
      const v = await store.putVersion({ release: 'web', version: '1', digest: D(1), publishedBy: 'ci' })
      expect(v).toMatchObject({ created: true, record: { schema: 1, release: 'web', version: '1', digest: D(1), publishedBy: 'ci', publishedAt: clock.now.toISOString() } })
      const same = await store.putVersion({ release: 'web', version: '1', digest: D(1), publishedBy: 'other' })
      expect(same).toEqual({ created: false, record: v.record })
      await expect(store.putVersion({ release: 'web', version: '1', digest: D(2), publishedBy: 'ci' })).rejects.toMatchObject({ code: 'VERSION_CONFLICT', details: { digest: D(1) } })
      await store.putVersion({ release: 'web', version: '2', digest: D(2), publishedBy: 'ci', signature: { s: 1 } })
      await store.putVersion({ release: 'web2', version: '1', digest: D(3), publishedBy: 'ci' })
      expect(await store.getVersion('web', '2')).toMatchObject({ digest: D(2), signature: { s: 1 } })
      expect(await store.getVersion('web', '3')).toBeUndefined()
      expect((await store.listVersions('web')).map((x) => x.version).sort()).toEqual(['1', '2'])
      expect((await store.listAllVersions()).map((x) => `${x.release}@${x.version}`).sort()).toEqual(['web2@1', 'web@1', 'web@2'])
    })

    it('channel moves: each is a rollout with a sequence, from and to, who and when; an unpublished version is NOT_FOUND', async () => {
      const { store, clock } = await fresh()
      await expect(store.moveChannel('web', 'prod', '1', 'ci')).rejects.toMatchObject({ code: 'NOT_FOUND' })
      for (let v = 1; v <= 12; v++) await store.putVersion({ release: 'web', version: String(v), digest: D(v), publishedBy: 'ci' })
      const first = await store.moveChannel('web', 'prod', '1', 'ci')
      expect(first).toEqual({
        channel: { schema: 1, release: 'web', channel: 'prod', version: '1', digest: D(1), rolloutId: 'web@prod#1', movedBy: 'ci', movedAt: clock.now.toISOString() },
        rollout: { schema: 1, id: 'web@prod#1', release: 'web', channel: 'prod', fromVersion: null, fromDigest: null, toVersion: '1', digest: D(1), by: 'ci', at: clock.now.toISOString() },
      })
      for (let v = 2; v <= 12; v++) await store.moveChannel('web', 'prod', String(v), `eng-${v}`)
      await store.moveChannel('web', 'canary', '5', 'ci')
      const history = await store.rolloutHistory('web', 'prod')
      expect(history.map((r) => r.toVersion)).toEqual(Array.from({ length: 12 }, (_, i) => String(i + 1))) // 10 after 9
      expect(history[11]).toMatchObject({ id: 'web@prod#12', fromVersion: '11', by: 'eng-12' })
      expect(await store.getChannel('web', 'prod')).toMatchObject({ version: '12', digest: D(12), rolloutId: 'web@prod#12' })
      expect(await store.getChannel('web', 'nope')).toBeUndefined()
      expect((await store.listChannels()).map((c) => `${c.release}@${c.channel}`).sort()).toEqual(['web@canary', 'web@prod'])
      expect(await store.rolloutHistory('web', 'canary')).toHaveLength(1)
    })

    it('a planned move stores its plan and progress with the rollout; progress is written only at the revision it was read at, and survives a restart', async () => {
      const { store, reopen } = await fresh()
      await store.putVersion({ release: 'web', version: '1', digest: D(1), publishedBy: 'ci' })
      await store.putVersion({ release: 'web', version: '2', digest: D(2), publishedBy: 'ci' })
      await store.moveChannel('web', 'prod', '1', 'ci')
      const plan = { gates: { waves: ['1', '100%'], maxUnavailable: '10%', bakeSeconds: 0, haltAfter: '1', autoRollback: true }, waves: [[['h1']], [['h2', 'h3']]] }
      const { rollout } = await store.moveChannel('web', 'prod', '2', 'ci', plan)
      expect(rollout).toMatchObject({ fromDigest: D(1), plan, progress: { rev: 0, state: 'running', wave: 0 } })
      expect(await store.getRollout('web', 'prod', 'web@prod#1')).toMatchObject({ toVersion: '1' })
      expect(await store.getRollout('web', 'prod', 'web@other#1')).toBeUndefined()
      const next = { ...rollout.progress!, rev: 1, wave: 1 }
      expect(await store.setProgress('web', 'prod', rollout.id, next, 0)).toBe(true)
      // A second writer that read revision 0 loses: its step is not written over the first.
      expect(await store.setProgress('web', 'prod', rollout.id, { ...next, state: 'paused' }, 0)).toBe(false)
      // A plain move has no progress to set.
      expect(await store.setProgress('web', 'prod', 'web@prod#1', next, 0)).toBe(false)
      const again = await reopen()
      expect((await again.getRollout('web', 'prod', rollout.id))!.progress).toMatchObject({ rev: 1, wave: 1, state: 'running' })
      expect((await again.rolloutHistory('web', 'prod')).map((r) => r.progress?.state ?? null)).toEqual([null, 'running'])
    })

    it('hosts: registered, re-registered in place, listed in id order, counted', async () => {
      const { store } = await fresh()
      for (const id of ['h2', 'h10', 'h1']) await store.putHost({ id, labels: { rack: id }, follows: ['web@prod'] })
      await store.putHost({ id: 'h2', labels: { rack: 'moved' }, follows: [] })
      expect(await store.hostCount()).toBe(3)
      expect((await store.listHosts()).map((h) => h.id)).toEqual(['h1', 'h10', 'h2'])
      expect(await store.getHost('h2')).toMatchObject({ schema: 1, labels: { rack: 'moved' }, follows: [] })
      expect(await store.getHost('h3')).toBeUndefined()
    })

    it('reports: the newest per host and digest; first report and first running time kept; lastSeen moves', async () => {
      const { store, clock } = await fresh()
      await store.putHost({ id: 'h1', labels: {}, follows: [] })
      const t0 = clock.now.toISOString()
      const base = { hostId: 'h1', digest: D(1), bytesFromPeers: 0, bytesFromOrigin: 0, peers: 0, rate: 0 }
      const r1 = await store.putReport({ ...base, state: 'downloading', bytesDone: 10 })
      expect(r1).toMatchObject({ schema: 1, state: 'downloading', bytesDone: 10, firstReportAt: t0, at: t0 })
      expect(r1.runningAt).toBeUndefined()
      clock.now = new Date(clock.now.getTime() + 5000)
      const t1 = clock.now.toISOString()
      const r2 = await store.putReport({ ...base, state: 'running', bytesDone: 100, errorCode: undefined })
      expect(r2).toMatchObject({ firstReportAt: t0, runningAt: t1, at: t1 })
      clock.now = new Date(clock.now.getTime() + 5000)
      const r3 = await store.putReport({ ...base, state: 'failed', bytesDone: 100, errorCode: 'LAUNCH_FAILED', message: 'm' })
      expect(r3).toMatchObject({ state: 'failed', errorCode: 'LAUNCH_FAILED', message: 'm', firstReportAt: t0, runningAt: t1 })
      expect((await store.getHost('h1'))?.lastSeen).toBe(clock.now.toISOString())
      await store.putReport({ ...base, hostId: 'h2', state: 'pending', bytesDone: 0 })
      await store.putReport({ ...base, digest: D(2), state: 'pending', bytesDone: 0 })
      expect((await store.reportsFor(D(1))).map((r) => r.hostId).sort()).toEqual(['h1', 'h2'])
      expect(await store.reportsFor(D(3))).toEqual([])
      expect(await store.getReport('h1', D(1))).toMatchObject({ state: 'failed' })
      expect(await store.getReport('h1', D(3))).toBeUndefined()
    })

    it('everything survives a restart (stop, then a new store on the same data)', async () => {
      const { store, reopen } = await fresh()
      await store.putBundle({ digest: D(1), size: 100, infoHash: IH(1), pieceLength: 65536, webSeeds: [], seeder: 's' })
      await store.putVersion({ release: 'web', version: '1', digest: D(1), publishedBy: 'ci' })
      await store.moveChannel('web', 'prod', '1', 'ci')
      await store.putHost({ id: 'h1', labels: { a: 'b' }, follows: ['web@prod'] })
      await store.putReport({ hostId: 'h1', digest: D(1), state: 'running', bytesDone: 100, bytesFromPeers: 0, bytesFromOrigin: 100, peers: 1, rate: 0 })
      const back = await reopen()
      expect(await back.getBundle(D(1))).toMatchObject({ seeders: ['s'] })
      expect(await back.digestForInfoHash(IH(1))).toBe(D(1))
      expect(await back.getVersion('web', '1')).toMatchObject({ digest: D(1) })
      expect(await back.getChannel('web', 'prod')).toMatchObject({ version: '1' })
      expect(await back.rolloutHistory('web', 'prod')).toHaveLength(1)
      expect(await back.getHost('h1')).toMatchObject({ labels: { a: 'b' }, follows: ['web@prod'] })
      expect(await back.getReport('h1', D(1))).toMatchObject({ state: 'running', bytesFromOrigin: 100 })
      expect(await back.reportsFor(D(1))).toHaveLength(1)
      // A move after the restart continues the sequence.
      await back.putVersion({ release: 'web', version: '2', digest: D(2), publishedBy: 'ci' })
      expect((await back.moveChannel('web', 'prod', '2', 'ci')).rollout.id).toBe('web@prod#2')
      await back.stop()
      await back.stop() // idempotent
    })
  })
}
