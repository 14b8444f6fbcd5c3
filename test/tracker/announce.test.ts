import { spawn, type ChildProcess } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import createTorrent from 'create-torrent'
import parseTorrent from 'parse-torrent'
import WebTorrent from 'webtorrent'
import { afterEach, describe, expect, it } from 'vitest'
import { buildTracker, createTrackerStore, parseTokens } from '../../src/tracker/index.js'
import { startTracker } from '../helpers/start-tracker.js'
import { useTempDirs } from '../helpers/temp-dir.js'

const tempDir = useTempDirs()
const SEEDER = 'seed-token-0123456789abcdef'
const HOST = 'host-token-0123456789abcdef'
const PUB = 'pub-token-0123456789abcdef'
const tokensText = `seeder ${SEEDER} origin\nhost ${HOST} fleet\npublisher ${PUB} ci\n`
const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

function makeTorrent(file: string, announce: string, name: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    createTorrent(file, { name, private: true, pieceLength: 256 * 1024, announceList: announce ? [[announce]] : [], createdBy: 'shoal-test', creationDate: 0, urlList: [] }, (err: Error | null, buf: Buffer) =>
      err ? reject(err) : resolve(buf),
    )
  })
}

const encodeBinary = (hex: string) => Buffer.from(hex, 'hex').toString('latin1').split('').map((c) => '%' + c.charCodeAt(0).toString(16).padStart(2, '0')).join('')

describe('BitTorrent announce and scrape', () => {
  it('/announce/<passkey> refuses unknown passkeys and unregistered infohashes with a failure reason, serves registered ones', async () => {
    const store = createTrackerStore({ dataDir: await tempDir() })
    await store.start()
    const app = await buildTracker({ store, tokens: parseTokens(tokensText) })
    cleanups.push(async () => {
      await app.close()
      await store.stop()
    })
    const infoHash = 'ab'.repeat(20)
    const q = (ih: string) => `info_hash=${encodeBinary(ih)}&peer_id=${encodeBinary('cd'.repeat(20))}&port=6881&uploaded=0&downloaded=0&left=100&compact=1&event=started`
    const badKey = await app.inject({ url: `/announce/not-a-passkey?${q(infoHash)}` })
    expect(badKey.statusCode).toBe(200)
    expect(badKey.body).toBe('d14:failure reason15:unknown passkeye')
    const unregistered = await app.inject({ url: `/announce/${HOST}?${q(infoHash)}` })
    expect(unregistered.body).toContain('unregistered infohash')
    const hostile = await app.inject({ url: `/announce/${HOST}?info_hash=short&peer_id=x&port=99999` })
    expect(hostile.statusCode).toBe(200)
    expect(hostile.body).toContain('failure reason')

    const reg = await app.inject({
      method: 'PUT',
      url: `/v1/bundles/sha256:${'0'.repeat(64)}`,
      headers: { authorization: `Bearer ${SEEDER}` },
      payload: { size: 100, infoHash, pieceLength: 262144, webSeeds: [], seeder: 'origin-1' },
    })
    expect(reg.statusCode).toBe(200)
    const ok = await app.inject({ url: `/announce/${HOST}?${q(infoHash)}` })
    expect(ok.body).toMatch(/^d.*8:intervali\d+e.*5:peers/)
    const scrape = await app.inject({ url: `/scrape/${HOST}?info_hash=${encodeBinary(infoHash)}` })
    const scraped = scrape.rawPayload.toString('latin1')
    expect(scraped.startsWith(`d5:filesd20:${Buffer.from(infoHash, 'hex').toString('latin1')}d`)).toBe(true)
    expect(scraped).toContain('10:incompletei1e')
  })

  it('aria2c downloads a registered bundle from a seeding webtorrent peer it found through the tracker, using the .torrent the registry personalises (real processes)', async () => {
    const dir = await tempDir()
    await writeFile(join(dir, 'tokens'), tokensText)
    const tracker = await startTracker(join(dir, 'data'), join(dir, 'tokens'))
    cleanups.push(() => void tracker.child.kill('SIGKILL'))

    const content = randomBytes(3 * 1024 * 1024 + 12345)
    const hex = createHash('sha256').update(content).digest('hex')
    const name = `${hex}.tar`
    const seedDir = join(dir, 'seed')
    await mkdir(seedDir)
    await writeFile(join(seedDir, name), content)
    const seederTorrent = await makeTorrent(join(seedDir, name), `${tracker.url}/announce/${SEEDER}`, name)
    // What seeders register: no announce URL (each caller gets one with its own passkey).
    const registered = await makeTorrent(join(seedDir, name), '', name)
    const { infoHash } = await parseTorrent(seederTorrent)
    expect((await parseTorrent(registered)).infoHash).toBe(infoHash)

    const reg = await fetch(`${tracker.url}/v1/bundles/sha256:${hex}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${SEEDER}`, 'content-type': 'application/json' },
      body: JSON.stringify({ size: content.length, infoHash, pieceLength: 262144, webSeeds: [], seeder: 'test-seeder', torrent: Buffer.from(registered).toString('base64') }),
    })
    expect(reg.status, await reg.clone().text()).toBe(200)
    // Hosts fetch the .torrent from the registry, as a fetcher will.
    const fetched = await fetch(`${tracker.url}/v1/bundles/sha256:${hex}/torrent`, { headers: { authorization: `Bearer ${HOST}` } })
    expect(fetched.headers.get('content-type')).toBe('application/x-bittorrent')
    const fetchedTorrent = Buffer.from(await fetched.arrayBuffer())
    const personal = await parseTorrent(fetchedTorrent)
    expect(personal.infoHash).toBe(infoHash) // only keys outside the info dictionary changed
    expect(personal.announce).toEqual([`${tracker.url}/announce/${HOST}`])

    const client = new WebTorrent({ dht: false, lsd: false, utp: false, natUpnp: false, natPmp: false })
    cleanups.push(() => new Promise<void>((r) => client.destroy(() => r())))
    await new Promise<void>((resolve, reject) => {
      client.once('error', reject)
      client.add(seederTorrent, { path: seedDir, strategy: 'rarest' }, (torrent) => {
        if (torrent.done) resolve()
        else torrent.once('done', () => resolve())
      })
    })

    const out = join(dir, 'out')
    await writeFile(join(dir, 'host.torrent'), fetchedTorrent)
    const aria: ChildProcess = spawn(
      'aria2c',
      ['--seed-time=0', '--enable-dht=false', '--enable-dht6=false', '--bt-enable-lpd=false', '--enable-peer-exchange=false', '--console-log-level=warn', '--summary-interval=0', '--file-allocation=none', '-d', out, join(dir, 'host.torrent')],
      { stdio: ['ignore', 'pipe', 'pipe'], signal: AbortSignal.timeout(60_000) },
    )
    let log = ''
    aria.stdout!.on('data', (c) => (log += c))
    aria.stderr!.on('data', (c) => (log += c))
    const code = await new Promise<number | null>((resolve) => aria.once('close', resolve))
    expect(code, log).toBe(0)
    const got = await readFile(join(out, name))
    expect(createHash('sha256').update(got).digest('hex')).toBe(hex)
  })
})
