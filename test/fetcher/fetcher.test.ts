import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { parseTokens, type Digest } from '../../src/core/index.js'
import { createSwarmNode, openPieceFile } from '../../src/swarm/index.js'
import { createFetcher, type Fetcher } from '../../src/fetcher/index.js'
import { buildTracker, createTrackerStore } from '../../src/tracker/index.js'
import { hostToken, TOKENS, TOKENS_FILE, waitFor } from '../helpers/fleet.js'
import { makeTorrentFile } from '../helpers/make-torrent.js'
import { useTempDirs } from '../helpers/temp-dir.js'

const tempDir = useTempDirs()
const stops: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const s of stops.splice(0).reverse()) await s()
})

describe('createFetcher()', () => {
  it('bytes that pass every piece hash but not the registered digest are never handed on or cached', async () => {
    const dir = await tempDir()
    const tokens = parseTokens(TOKENS_FILE)
    const store = createTrackerStore({ dataDir: join(dir, 'tracker') })
    await store.start()
    const tracker = await buildTracker({ store, tokens })
    const url = await tracker.listen({ port: 0, host: '127.0.0.1' })
    stops.push(async () => {
      await tracker.close()
      await store.stop()
    })
    // A torrent for some bytes, registered under a digest those bytes do not have.
    const t = await makeTorrentFile(dir, 1 << 20)
    const claimed = `sha256:${'ab'.repeat(32)}` as Digest
    const put = (path: string, token: string, body: unknown, method = 'PUT') =>
      fetch(`${url}${path}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) })
    expect((await put(`/v1/bundles/${claimed}`, TOKENS.seeder, { size: t.info.length, infoHash: t.info.infoHash, pieceLength: t.info.pieceLength, webSeeds: [], seeder: 'rogue', torrent: t.torrent.toString('base64') })).ok).toBe(true)
    expect((await put('/v1/releases/app/versions/1.0.0', TOKENS.publisher, { digest: claimed })).ok).toBe(true)
    expect((await put('/v1/channels/app/prod', TOKENS.publisher, { version: '1.0.0' })).ok).toBe(true)
    const origin = createSwarmNode({ role: 'origin', listenHost: '127.0.0.1' })
    await origin.start()
    stops.push(() => origin.stop())
    origin.add(t.info, await openPieceFile(t.path, t.info, { complete: true }), { superSeed: true, announceUrls: [`${url}/announce/${TOKENS.seeder}`] })

    let handedOn = 0
    const fetcher: Fetcher = createFetcher({
      dataDir: join(dir, 'host'),
      tracker: { url, token: hostToken('h1') },
      hostId: 'h1',
      follows: ['app@prod'],
      peerPort: 0,
      listenHost: '127.0.0.1',
      // A hand-off that stages without hashing (as when the image is installed already): the
      // fetcher checks the digest itself, and must never activate bytes that fail it.
      handOff: {
        stage: async () => ({ verified: false }),
        activate: async () => void handedOn++,
        stopAll: async () => {},
      },
      retryMs: { min: 60_000, max: 60_000 },
    })
    await fetcher.start()
    stops.push(() => fetcher.stop())
    const report = await waitFor('a failed report', async () => {
      const r = (await (await fetch(`${url}/v1/hosts/h1/reports/${claimed}`, { headers: { authorization: `Bearer ${TOKENS.viewer}` } })).json()) as { state: string; errorCode?: string }
      return r.state === 'failed' && r
    })
    expect(report.errorCode).toBe('BUNDLE_DIGEST_MISMATCH')
    expect(handedOn).toBe(0)
    expect(await readdir(join(dir, 'host', 'cache'))).toEqual([])
    expect((await readdir(join(dir, 'host', 'partial'))).filter((n) => n.endsWith('.tar'))).toEqual([])
    expect(fetcher.status()).toEqual([{ digest: claimed, state: 'failed', errorCode: 'BUNDLE_DIGEST_MISMATCH' }])
  }, 60_000)
})
