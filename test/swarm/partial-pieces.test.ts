import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { createSwarmNode, openPieceFile, type PartialPiece, type SwarmNode } from '../../src/swarm/index.js'
import { makeTorrentFile } from '../helpers/make-torrent.js'
import { useTempDirs } from '../helpers/temp-dir.js'

const tempDir = useTempDirs()
const nodes: SwarmNode[] = []
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop()))
})
async function node(role: 'origin' | 'host'): Promise<SwarmNode> {
  const n = createSwarmNode({ role, listenHost: '127.0.0.1' })
  await n.start()
  nodes.push(n)
  return n
}
const sha256 = async (p: string) => createHash('sha256').update(await readFile(p)).digest('hex')
const BLOCK = 16 << 10
const PIECE = 256 << 10

/** Piece i as a host would derive it: the right bytes except the blocks listed missing (zeroed). */
function partial(data: Buffer, i: number, missing: number[], lie = false): PartialPiece {
  const piece = Buffer.from(data.subarray(i * PIECE, (i + 1) * PIECE))
  for (const o of missing) piece.fill(0, o, o + BLOCK)
  if (lie) piece[PIECE - 1]! ^= 0xff // a derived byte that is wrong (a local file that changed on disk)
  return { data: piece, missing, known: PIECE - missing.length * BLOCK }
}

describe('partly derived pieces (issue 15)', () => {
  it('only the missing blocks of a partly derived piece are asked of peers; the derived bytes are counted', async () => {
    const dir = await tempDir()
    const t = await makeTorrentFile(dir, 8 * PIECE)
    const origin = await node('origin')
    origin.add(t.info, await openPieceFile(t.path, t.info, { complete: true }))
    const host = await node('host')
    const path = join(dir, 'host.tar')
    const file = await openPieceFile(path, t.info)
    // Pieces 0..5 derived whole (adopted), 6 missing one block, 7 missing two, none of 7's blocks contiguous.
    for (let i = 0; i < 6; i++) await file.adopt(i, t.data.subarray(i * PIECE, (i + 1) * PIECE))
    const partials = new Map([
      [6, partial(t.data, 6, [5 * BLOCK])],
      [7, partial(t.data, 7, [0, 15 * BLOCK])],
    ])
    const s = host.add(t.info, file, { webSeeds: [], derived: { bytes: 6 * PIECE, partials } })
    s.addPeer({ host: '127.0.0.1', port: origin.port })
    await s.done
    expect(await sha256(path)).toBe(t.sha256)
    const st = s.stats()
    expect(st.bytesFromPeers + st.bytesFromOrigin).toBe(3 * BLOCK)
    expect(st.bytesDerived).toBe(8 * PIECE - 3 * BLOCK)
    expect(st.hashFailures).toBe(0)
  }, 30_000)

  it('a partly derived piece whose derived bytes are wrong fails its hash, is fetched whole, and the peer is not blamed', async () => {
    const dir = await tempDir()
    const t = await makeTorrentFile(dir, 4 * PIECE)
    const origin = await node('origin')
    origin.add(t.info, await openPieceFile(t.path, t.info, { complete: true }))
    const host = await node('host')
    const path = join(dir, 'host.tar')
    const file = await openPieceFile(path, t.info)
    for (let i = 0; i < 3; i++) await file.adopt(i, t.data.subarray(i * PIECE, (i + 1) * PIECE))
    const s = host.add(t.info, file, { webSeeds: [], derived: { bytes: 3 * PIECE, partials: new Map([[3, partial(t.data, 3, [0], true)]]) } })
    const mismatches: number[] = []
    s.on('derived-mismatch', (e: { index: number }) => mismatches.push(e.index))
    s.addPeer({ host: '127.0.0.1', port: origin.port })
    await s.done
    expect(await sha256(path)).toBe(t.sha256)
    expect(mismatches).toEqual([3])
    const st = s.stats()
    // The missing block, then the whole piece again; the derived bytes of piece 3 are not counted.
    expect(st.bytesFromPeers + st.bytesFromOrigin).toBe(BLOCK + PIECE)
    expect(st.bytesDerived).toBe(3 * PIECE)
    expect(st.peers).toBe(1) // still linked: a partly derived piece that fails blames no one
  }, 30_000)
})
