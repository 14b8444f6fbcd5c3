import bencode from 'bencode'
import { describe, expect, it } from 'vitest'
import { personalizeTorrent } from '../../src/tracker/personal-torrent.js'

const stored = Buffer.from(bencode.encode({ announce: 'http://old/announce', 'announce-list': [['http://evil/announce']], info: { name: 'b', length: 1, 'piece length': 16384, pieces: Buffer.alloc(20) }, 'url-list': ['http://seed-a/bundles/' + 'ab'.repeat(32) + '.tar'] }))
const decode = (b: Buffer) => bencode.decode(b) as Record<string, unknown>
const text = (x: unknown) => Buffer.from(x as Uint8Array).toString()

describe('the served .torrent (issue 19: every replica, BEP 12)', () => {
  it('lists every replica in one announce-list tier, this one first and in `announce`; the info dict (infohash) is untouched', () => {
    const d = decode(personalizeTorrent(stored, { announceUrl: 'http://t1/announce/K', passkey: 'K', otherAnnounceUrls: ['http://t1/announce/K', 'http://t2/announce/K', 'http://t3/announce/K'] }))
    expect(text(d.announce)).toBe('http://t1/announce/K')
    expect((d['announce-list'] as unknown[][]).map((tier) => tier.map(text))).toEqual([['http://t1/announce/K', 'http://t2/announce/K', 'http://t3/announce/K']])
    expect(Buffer.from(bencode.encode(d.info))).toEqual(Buffer.from(bencode.encode(decode(stored).info)))
    expect((d['url-list'] as unknown[]).map(text)).toEqual(['http://seed-a/seed/K/' + 'ab'.repeat(32) + '.tar'])
  })

  it('one tracker: no announce-list (and a stored one is never passed on)', () => {
    const d = decode(personalizeTorrent(stored, { announceUrl: 'http://t1/announce/K', passkey: 'K' }))
    expect(d['announce-list']).toBeUndefined()
  })
})
