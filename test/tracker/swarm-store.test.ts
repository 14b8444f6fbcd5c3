import { describe, expect, it } from 'vitest'
import { compactAddress, createSwarmStore, parseAnnounceQuery, type AnnounceParams } from '../../src/tracker/swarm-store.js'
import { makeLocalPeerId } from '../../src/core/index.js'

const esc = (hex: string) => [...Buffer.from(hex, 'hex')].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('')
const IH = 'ab'.repeat(20)
const pid = (n: number) => n.toString(16).padStart(40, '0')
const base = `info_hash=${esc(IH)}&peer_id=${esc(pid(1))}&port=6881&left=10`

describe('parseAnnounceQuery()', () => {
  it('parseAnnounceQuery() reads the BEP 3 fields from raw percent-encoded bytes', () => {
    expect(parseAnnounceQuery(`${base}&event=started&numwant=5&compact=1`)).toEqual({ infoHash: IH, peerId: pid(1), port: 6881, left: 10, event: 'started', numwant: 5 })
    expect(parseAnnounceQuery(base).event).toBe('update')
    expect(parseAnnounceQuery(`${base}&numwant=100000`).numwant).toBe(200)
    expect(parseAnnounceQuery(`info_hash=${esc(IH)}&peer_id=${esc(pid(1))}&port=1`).left).toBe(Number.POSITIVE_INFINITY)
  })

  it.each([
    ['a short info_hash', `info_hash=abc&peer_id=${esc(pid(1))}&port=1`, 'invalid info_hash'],
    ['no peer_id', `info_hash=${esc(IH)}&port=1`, 'invalid peer_id'],
    ['port 0', `info_hash=${esc(IH)}&peer_id=${esc(pid(1))}&port=0`, 'invalid port'],
    ['port 70000', `info_hash=${esc(IH)}&peer_id=${esc(pid(1))}&port=70000`, 'invalid port'],
    ['a negative left', `${base.replace('left=10', 'left=-1')}`, 'invalid left'],
    ['an unknown event', `${base}&event=exploded`, 'invalid event'],
    ['nothing', '', 'invalid info_hash'],
  ])('parseAnnounceQuery() refuses %s', (_name, q, reason) => {
    expect(() => parseAnnounceQuery(q)).toThrow(reason)
  })
})

describe('compactAddress()', () => {
  it.each([
    ['127.0.0.1', 6881, '7f0000011ae1'],
    ['::ffff:10.1.2.3', 80, '0a0102030050'],
    ['::1', 1, '000000000000000000000000000000010001'],
    ['fe80::1:2', 2, 'fe800000000000000000000000010002' + '0002'],
    ['not an ip', 1, undefined],
  ])('compactAddress(%j, %j) is %j', (ip, port, hex) => {
    expect(compactAddress(ip, port)?.toString('hex')).toBe(hex)
  })
})

describe('createSwarmStore()', () => {
  const params = (n: number, over: Partial<AnnounceParams> = {}): AnnounceParams => ({ infoHash: IH, peerId: pid(n), port: 1000 + n, left: 5, event: 'started', numwant: 50, ...over })

  it('announce() counts seeds and leechers, never returns the caller, and honours numwant', () => {
    const s = createSwarmStore()
    for (let i = 0; i < 10; i++) s.announce(params(i, { left: i < 3 ? 0 : 5 }), '127.0.0.1', 60)
    expect(s.stats(IH)).toEqual({ complete: 3, incomplete: 7, downloaded: 0 })
    const body = s.announce(params(0, { numwant: 4, event: 'update' }), '127.0.0.1', 60).toString('latin1')
    expect(body.startsWith('d8:completei3e10:incompletei7e8:intervali60e12:min intervali30e5:peers24:')).toBe(true)
    const all = s.announce(params(0, { numwant: 50, event: 'update' }), '127.0.0.1', 60)
    const peers = all.subarray(all.indexOf('5:peers') + 7)
    expect(peers.subarray(0, 3).toString()).toBe('54:') // 9 others x 6 bytes, not itself
    const ports = new Set<number>()
    for (let i = 3; i < 57; i += 6) ports.add(peers.readUInt16BE(i + 4))
    expect(ports.has(1000)).toBe(false)
    expect(ports.size).toBe(9)
  })

  it('announce() moves a peer to complete once, removes it on stopped, and sweep() drops silent peers', () => {
    let t = 0
    const s = createSwarmStore({ peerTtlMs: 1000, now: () => t })
    s.announce(params(1), '127.0.0.1', 60)
    s.announce(params(2), '127.0.0.1', 60)
    s.announce(params(1, { left: 0, event: 'completed' }), '127.0.0.1', 60)
    s.announce(params(1, { left: 0, event: 'update' }), '127.0.0.1', 60)
    expect(s.stats(IH)).toEqual({ complete: 1, incomplete: 1, downloaded: 1 })
    s.announce(params(2, { event: 'stopped' }), '127.0.0.1', 60)
    expect(s.stats(IH)).toEqual({ complete: 1, incomplete: 0, downloaded: 1 })
    t = 2000
    s.sweep()
    expect(s.stats(IH)).toEqual({ complete: 0, incomplete: 0, downloaded: 0 })
    expect(s.swarms).toBe(0)
  })
})

describe('topology-aware answers', () => {
  const idAt = (region: string | undefined, rack: string | undefined, n: number, prefix = '-SH0100-') =>
    makeLocalPeerId(prefix, { region, rack }, Buffer.from(n.toString(16).padStart(12, '0'), 'hex')).toString('hex')
  const announceAs = (store: ReturnType<typeof createSwarmStore>, peerId: string, ip: string, left = 10) =>
    store.record({ infoHash: IH, peerId, port: 6881, left, event: 'started', numwant: 50 }, ip)
  const ipOf = (buf: Buffer) => [...buf.subarray(0, 4)].join('.')

  it('gives a labelled host mostly its rack, some region, some beyond, and the unlabelled origin as a near peer', () => {
    const store = createSwarmStore()
    announceAs(store, idAt(undefined, undefined, 0, '-SO0100-'), '10.9.9.9', 0) // the origin
    // 4 regions x 5 racks x 20 hosts; IP 10.region.rack.host
    for (let g = 0; g < 4; g++) for (let r = 0; r < 5; r++) for (let h = 1; h <= 20; h++) announceAs(store, idAt(`g${g}`, `r${r}`, g * 1000 + r * 100 + h), `10.${g}.${r}.${h}`)
    const me = idAt('g1', 'r2', 99_999)
    const got = announceAs(store, me, '10.1.2.99').v4.map(ipOf)
    expect(got).toHaveLength(50)
    const rack = got.filter((ip) => ip.startsWith('10.1.2.')).length
    const region = got.filter((ip) => ip.startsWith('10.1.') && !ip.startsWith('10.1.2.')).length
    expect(got).toContain('10.9.9.9')
    expect(rack).toBe(20) // all 20 rack peers (the origin counts as near too)
    expect(region).toBeGreaterThanOrEqual(8)
    expect(got.length - rack - region - 1).toBeGreaterThanOrEqual(3)
  })

  it('answers an unlabelled host at random over the whole swarm, as before', () => {
    const store = createSwarmStore()
    for (let g = 0; g < 4; g++) for (let h = 1; h <= 100; h++) announceAs(store, idAt(`g${g}`, 'r', g * 1000 + h), `10.${g}.0.${h}`)
    const got = announceAs(store, pid(7), '10.200.0.1').v4.map(ipOf)
    const regions = new Set(got.map((ip) => ip.split('.')[1]))
    expect(got).toHaveLength(50)
    expect(regions.size).toBe(4)
  })

  it('forgets a stopped peer in its rack list too', () => {
    const store = createSwarmStore()
    const a = idAt('g', 'r', 1)
    const b = idAt('g', 'r', 2)
    for (let h = 3; h < 60; h++) announceAs(store, idAt('x', 'y', h), `10.1.0.${h}`)
    announceAs(store, a, '10.0.0.1')
    announceAs(store, b, '10.0.0.2')
    expect(announceAs(store, b, '10.0.0.2').v4.map(ipOf)).toContain('10.0.0.1')
    store.record({ infoHash: IH, peerId: a, port: 6881, left: 10, event: 'stopped', numwant: 50 }, '10.0.0.1')
    expect(announceAs(store, b, '10.0.0.2').v4.map(ipOf)).not.toContain('10.0.0.1')
  })
})
