/**
 * BEP 48 scrape. Encoded here because bittorrent-tracker 11.2.3 bencodes the raw 20-byte
 * infohash keys as UTF-8 strings, so every byte >= 0x80 became two bytes and clients could not
 * match the keys. Pure functions, table-tested.
 */

/** Percent-decodes one query value into the exact bytes (decodeURIComponent would reject non-UTF-8). */
export function percentDecodeBytes(value: string): Buffer {
  const out: number[] = []
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!
    if (c === '%' && /^[0-9a-fA-F]{2}$/.test(value.slice(i + 1, i + 3))) {
      out.push(parseInt(value.slice(i + 1, i + 3), 16))
      i += 2
    } else if (c === '+') out.push(0x20)
    else {
      const code = c.charCodeAt(0)
      if (code > 0x7f) return Buffer.alloc(0) // not a valid query string byte
      out.push(code)
    }
  }
  return Buffer.from(out)
}

/** The info_hash values of a scrape query, as hex; malformed ones (not 20 bytes) are dropped. */
export function scrapeInfoHashes(rawQuery: string): string[] {
  const hashes: string[] = []
  for (const part of rawQuery.split('&')) {
    const eq = part.indexOf('=')
    if (eq === -1 || part.slice(0, eq) !== 'info_hash') continue
    const bytes = percentDecodeBytes(part.slice(eq + 1))
    if (bytes.length === 20) hashes.push(bytes.toString('hex'))
  }
  return hashes
}

export interface ScrapeEntry {
  infoHash: string
  complete: number
  incomplete: number
  downloaded: number
}

const str = (b: Buffer): Buffer => Buffer.concat([Buffer.from(`${b.length}:`), b])
const int = (n: number): Buffer => Buffer.from(`i${Math.max(0, Math.trunc(n))}e`)

/** `d5:filesd<20-byte key>d8:completei..e10:downloadedi..e10:incompletei..eeee`, keys sorted. */
export function encodeScrapeResponse(entries: ScrapeEntry[]): Buffer {
  const sorted = [...entries].sort((a, b) => Buffer.compare(Buffer.from(a.infoHash, 'hex'), Buffer.from(b.infoHash, 'hex')))
  const parts: Buffer[] = [Buffer.from('d5:filesd')]
  for (const e of sorted) {
    parts.push(str(Buffer.from(e.infoHash, 'hex')))
    parts.push(Buffer.from('d8:complete'), int(e.complete), Buffer.from('10:downloaded'), int(e.downloaded), Buffer.from('10:incomplete'), int(e.incomplete), Buffer.from('e'))
  }
  parts.push(Buffer.from('ee'))
  return Buffer.concat(parts)
}
