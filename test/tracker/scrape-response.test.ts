import { describe, expect, it } from 'vitest'
import { encodeScrapeResponse, percentDecodeBytes, scrapeInfoHashes } from '../../src/tracker/scrape-response.js'

const H1 = 'ab'.repeat(20)
const H2 = '00ff'.repeat(10)
const esc = (hex: string) => [...Buffer.from(hex, 'hex')].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('')

describe('scrape response (BEP 48)', () => {
  it.each([
    ['%ab%CD', [0xab, 0xcd]],
    ['abc', [0x61, 0x62, 0x63]],
    ['a+b', [0x61, 0x20, 0x62]],
    ['%zz', [0x25, 0x7a, 0x7a]],
    ['%', [0x25]],
    ['é', []],
  ])('percentDecodeBytes(%j) gives %j', (input, bytes) => {
    expect([...percentDecodeBytes(input)]).toEqual(bytes)
  })

  it('scrapeInfoHashes() keeps every 20-byte info_hash and drops malformed ones', () => {
    expect(scrapeInfoHashes(`info_hash=${esc(H1)}&info_hash=${esc(H2)}&info_hash=short&peer_id=x`)).toEqual([H1, H2])
    expect(scrapeInfoHashes('')).toEqual([])
    expect(scrapeInfoHashes('info_hash')).toEqual([])
  })

  it('encodeScrapeResponse() writes raw 20-byte keys, sorted, with integer counts', () => {
    const out = encodeScrapeResponse([
      { infoHash: H1, complete: 2, incomplete: 1, downloaded: 5 },
      { infoHash: H2, complete: 0, incomplete: 0, downloaded: 0 },
    ])
    const expected = Buffer.concat([
      Buffer.from('d5:filesd20:'),
      Buffer.from(H2, 'hex'),
      Buffer.from('d8:completei0e10:downloadedi0e10:incompletei0ee20:'),
      Buffer.from(H1, 'hex'),
      Buffer.from('d8:completei2e10:downloadedi5e10:incompletei1eeee'),
    ])
    expect(out.equals(expected)).toBe(true)
    expect(encodeScrapeResponse([]).toString()).toBe('d5:filesdee')
  })
})
