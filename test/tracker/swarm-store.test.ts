import { describe, expect, it } from 'vitest'
import { compactAddress, createSwarmStore, parseAnnounceQuery, type AnnounceParams } from '../../src/tracker/swarm-store.js'

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
