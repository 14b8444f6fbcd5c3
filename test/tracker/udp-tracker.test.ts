import { randomBytes } from 'node:crypto'
import { createSocket } from 'node:dgram'
import { Client } from 'bittorrent-tracker'
import { afterEach, describe, expect, it } from 'vitest'
import { buildTracker, createTrackerStore, parseTokens } from '../../src/tracker/index.js'
import { useTempDirs } from '../helpers/temp-dir.js'

const tempDir = useTempDirs()
const SEEDER = 'seed-token-0123456789abcdef'
const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

async function udpTracker() {
  const store = createTrackerStore({ dataDir: await tempDir() })
  await store.start()
  const app = await buildTracker({ store, tokens: parseTokens(`seeder ${SEEDER} origin\n`), udpPort: 0 })
  await app.listen({ port: 0, host: '127.0.0.1' })
  cleanups.push(async () => {
    await app.close()
    await store.stop()
  })
  const infoHash = randomBytes(20).toString('hex')
  const r = await app.inject({ method: 'PUT', url: `/v1/bundles/sha256:${'0'.repeat(64)}`, headers: { authorization: `Bearer ${SEEDER}` }, payload: { size: 1, infoHash, pieceLength: 16384, webSeeds: [] } })
  expect(r.statusCode).toBe(200)
  return { port: app.udpPort!()!, infoHash }
}

function exchange(port: number, packet: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4')
    const timer = setTimeout(() => (s.close(), reject(new Error('no UDP reply within 5 s'))), 5000)
    s.once('message', (msg) => {
      clearTimeout(timer)
      s.close()
      resolve(msg)
    })
    s.send(packet, port, '127.0.0.1')
  })
}

describe('UDP tracker (BEP 15)', () => {
  it('a bittorrent-tracker client announcing over udp:// finds the other peer of a registered swarm', async () => {
    const { port, infoHash } = await udpTracker()
    const make = (peerPort: number) => {
      const c = new Client({ infoHash, peerId: randomBytes(20), announce: [`udp://127.0.0.1:${port}`], port: peerPort })
      cleanups.push(() => new Promise<void>((r) => c.destroy(() => r())))
      return c
    }
    const first = make(6001)
    const firstUpdate = new Promise<{ incomplete: number }>((resolve, reject) => {
      first.once('update', resolve)
      first.once('error', reject)
    })
    first.start()
    expect((await firstUpdate).incomplete).toBe(1)
    const second = make(6002)
    const peer = new Promise<string>((resolve, reject) => {
      second.once('peer', resolve)
      second.once('error', reject)
    })
    second.start()
    expect(await peer).toBe('127.0.0.1:6001')
  })

  it('answers a bad connection id and an unregistered infohash with BEP 15 error packets', async () => {
    const { port } = await udpTracker()
    const announce = Buffer.alloc(98)
    randomBytes(8).copy(announce, 0)
    announce.writeUInt32BE(1, 8)
    announce.writeUInt32BE(42, 12)
    const bad = await exchange(port, announce)
    expect(bad.readUInt32BE(0)).toBe(3)
    expect(bad.readUInt32BE(4)).toBe(42)
    expect(bad.subarray(8).toString()).toBe('invalid connection id')

    const connect = Buffer.alloc(16)
    connect.writeBigUInt64BE(0x41727101980n, 0)
    connect.writeUInt32BE(0, 8)
    connect.writeUInt32BE(7, 12)
    const conn = await exchange(port, connect)
    expect(conn.readUInt32BE(0)).toBe(0)
    conn.subarray(8, 16).copy(announce, 0)
    randomBytes(20).copy(announce, 16) // an infohash nobody registered
    announce.writeUInt16BE(6881, 96)
    const unregistered = await exchange(port, announce)
    expect(unregistered.readUInt32BE(0)).toBe(3)
    expect(unregistered.subarray(8).toString()).toBe('unregistered infohash')
  })
})
