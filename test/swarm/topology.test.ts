import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { distanceBetween, localityFromLabels, makeLocalPeerId, peerKey, selectPeers, tagOfPeerId } from '../../src/core/index.js'
import { admitPeer, choosePiece, createNearAvailability, createPieceScheduler } from '../../src/swarm/index.js'

const idOf = (region?: string, rack?: string, prefix = '-SH0100-'): string => makeLocalPeerId(prefix, { region, rack }, randomBytes(6)).toString('hex')
const tag = (region?: string, rack?: string): string => tagOfPeerId(idOf(region, rack))

describe('locality in the peer id', () => {
  it('reads region (or zone) and rack from host labels', () => {
    expect(localityFromLabels({ region: 'eu', rack: 'r1', role: 'web' })).toEqual({ region: 'eu', rack: 'r1' })
    expect(localityFromLabels({ zone: 'z2' })).toEqual({ region: 'z2', rack: undefined })
  })

  it('keeps a 20-byte Shoal peer id whose tag gives the distance', () => {
    const id = idOf('eu', 'r1')
    expect(id).toHaveLength(40)
    expect(Buffer.from(id, 'hex').subarray(0, 8).toString()).toBe('-SH0100-')
    expect(distanceBetween(tag('eu', 'r1'), tag('eu', 'r1'))).toBe(0)
    expect(distanceBetween(tag('eu', 'r1'), tag('eu', 'r2'))).toBe(1)
    expect(distanceBetween(tag('eu', 'r1'), tag('us', 'r1'))).toBe(2) // rack names are per region
  })

  it('treats a peer without a locality as near: unlabelled fleets, the origin, other clients', () => {
    expect(tagOfPeerId(idOf())).toBe('')
    expect(tagOfPeerId(Buffer.from('-qB4650-abcdefghijkl').toString('hex'))).toBe('')
    expect(tagOfPeerId('zz')).toBe('')
    expect(distanceBetween('', tag('eu', 'r1'))).toBe(0)
    expect(distanceBetween(tag('eu', 'r1'), '')).toBe(0)
  })
})

describe('selectPeers()', () => {
  const mk = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i}`)

  it('answers mostly from the rack, keeps shares for the region and beyond, never repeats or returns the caller', () => {
    const rack = mk('rack', 60)
    const region = [...rack, ...mk('reg', 300)]
    const all = [...region, ...mk('far', 2000)]
    const got = selectPeers(50, { rack, region, all }, (p) => p === 'rack0', Math.random, { inRack: (p) => p.startsWith('rack'), inRegion: (p) => !p.startsWith('far') })
    expect(got).toHaveLength(50)
    expect(new Set(got).size).toBe(50)
    expect(got).not.toContain('rack0')
    const count = (p: string): number => got.filter((x) => x.startsWith(p)).length
    expect(count('rack')).toBe(50 - 3 - 8) // farShare 5% -> 3, regionShare 15% -> 8
    expect(count('reg')).toBe(8)
    expect(count('far')).toBe(3)
  })

  it('lets a small rack leave its share to the region, and returns everyone when there are few', () => {
    const rack = mk('rack', 5)
    const region = [...rack, ...mk('reg', 20)]
    const got = selectPeers(50, { rack, region, all: region }, () => false)
    expect(new Set(got)).toEqual(new Set(region))
  })
})

describe('createNearAvailability()', () => {
  it('allows a remote peer only for pieces no nearer peer holds', () => {
    const near = createNearAvailability(4)
    near.addPeer(0, (i) => i === 0)
    near.addPeer(1, (i) => i === 1)
    expect([0, 1, 2, 3].map((i) => near.allows(1, i))).toEqual([false, true, true, true])
    expect([0, 1, 2, 3].map((i) => near.allows(2, i))).toEqual([false, false, true, true])
    near.add(1, 2)
    expect(near.allows(2, 2)).toBe(false)
    expect(near.allows(1, 2)).toBe(true) // a region copy does not stop asking the region
    near.addPeer(0, (i) => i === 0, -1)
    expect(near.allows(1, 0)).toBe(true)
  })

  it('gives every piece exactly one owner in a rack whose hosts all see each other', () => {
    const keys = Array.from({ length: 12 }, () => randomBytes(4).readUInt32BE())
    const nears = keys.map((k) => createNearAvailability(500, k))
    nears.forEach((n, a) => keys.forEach((k, b) => a !== b && n.rackPeer(k, 1)))
    for (let i = 0; i < 500; i++) expect(nears.filter((n) => n.owns(i)).length).toBe(1)
    // Spread: no host owns more than three times its fair share.
    for (const n of nears) expect([...Array(500).keys()].filter((i) => n.owns(i)).length).toBeLessThan((3 * 500) / 12)
  })

  it('never leaves a piece without an owner when hosts see only part of the rack, and takes pieces back when a peer leaves', () => {
    const keys = Array.from({ length: 10 }, () => randomBytes(4).readUInt32BE())
    const nears = keys.map((k) => createNearAvailability(300, k))
    // Each host sees only the next four hosts.
    nears.forEach((n, a) => [1, 2, 3, 4].forEach((d) => n.rackPeer(keys[(a + d) % 10]!, 1)))
    for (let i = 0; i < 300; i++) expect(nears.filter((n) => n.owns(i)).length).toBeGreaterThanOrEqual(1)
    const alone = createNearAvailability(50, keys[0])
    alone.rackPeer(keys[1]!, 1)
    alone.rackPeer(keys[1]!, 1) // a second connection to the same peer
    const owned = [...Array(50).keys()].filter((i) => alone.owns(i)).length
    alone.rackPeer(keys[1]!, -1)
    expect([...Array(50).keys()].filter((i) => alone.owns(i)).length).toBe(owned)
    alone.rackPeer(keys[1]!, -1)
    expect([...Array(50).keys()].every((i) => alone.owns(i))).toBe(true)
  })

  it('owns everything without a key (a host that states no locality)', () => {
    const near = createNearAvailability(10)
    near.rackPeer(123, 1)
    expect([...Array(10).keys()].every((i) => near.owns(i))).toBe(true)
  })
})

describe('choosePiece()', () => {
  const setup = () => {
    const sched = createPieceScheduler({ pieceCount: 4, random: () => 0 })
    const near = createNearAvailability(4, peerKey(idOf('eu', 'r1')))
    return { sched, near }
  }
  const all = () => true

  it('asks the origin only for pieces no other peer holds', () => {
    const { sched, near } = setup()
    sched.addPeer((i) => i < 2) // the origin revealed 0 and 1
    sched.addPeer((i) => i === 0) // a rack peer holds 0
    near.addPeer(0, (i) => i === 0)
    expect(choosePiece(sched, near, { has: (i) => i < 2, origin: true, distance: 0 })).toBe(1)
    sched.start(1)
    expect(choosePiece(sched, near, { has: (i) => i < 2, origin: true, distance: 0 }, new Set([1]))).toBeUndefined()
  })

  it('asks a peer outside the rack only for what the rack lacks, and once idle for what it does not own', () => {
    const { sched, near } = setup()
    // A rack peer that owns every piece this host could want from outside.
    let other = 0
    while ([0, 1, 2, 3].some((i) => near.owns(i))) near.rackPeer(++other, 1)
    sched.addPeer((i) => i === 0)
    near.addPeer(0, (i) => i === 0)
    sched.addPeer(all)
    const remote = { has: all, origin: false, distance: 1 as const }
    expect(choosePiece(sched, near, remote)).toBeUndefined() // not ours to fetch
    expect(choosePiece(sched, near, remote, undefined, () => false)).toBeUndefined()
    const got = choosePiece(sched, near, remote, undefined, () => true)
    expect(got).toBeDefined()
    expect(got).not.toBe(0) // the rack holds 0: never from outside
    expect(choosePiece(sched, near, { has: all, origin: false, distance: 0 })).toBeDefined()
  })
})

describe('admitPeer()', () => {
  const rackPeer = { rackMember: true, distance: 0 as const, origin: false }
  const regionPeer = { rackMember: false, distance: 1 as const, origin: false }
  const farPeer = { rackMember: false, distance: 2 as const, origin: false }
  const origin = { rackMember: false, distance: 0 as const, origin: true }
  const plain = { rackMember: false, distance: 0 as const, origin: false }

  it('keeps slots for links out of the rack and out of the region', () => {
    expect(admitPeer({ total: 39, rack: 39 }, rackPeer, 50)).toBe(true)
    expect(admitPeer({ total: 40, rack: 40 }, rackPeer, 50)).toBe(false)
    expect(admitPeer({ total: 49, rack: 40 }, regionPeer, 50)).toBe(true)
    expect(admitPeer({ total: 50, rack: 40 }, regionPeer, 50)).toBe(false)
    expect(admitPeer({ total: 59, rack: 40 }, farPeer, 50)).toBe(true)
    expect(admitPeer({ total: 59, rack: 40 }, origin, 50)).toBe(true)
    expect(admitPeer({ total: 60, rack: 40 }, farPeer, 50)).toBe(false)
  })

  it('is the plain limit in a fleet without labels', () => {
    expect(admitPeer({ total: 49, rack: 0 }, plain, 50)).toBe(true)
    expect(admitPeer({ total: 50, rack: 0 }, plain, 50)).toBe(false)
  })
})
