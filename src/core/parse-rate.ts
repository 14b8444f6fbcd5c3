import { UsageError } from './errors.js'

/**
 * Parses a rate, bytes per second unless it says bits, with one reading per spelling:
 * `800k`, `5M`, `2G` and `5MB` are decimal bytes; `5MiB`, `1GiB` binary bytes; `40mbit`, `40Mbit`,
 * `40mbps` bits. A lone lowercase `b` (`10mb`, `10Kb`) could be either, so it is refused
 * (USAGE, naming both readings): `--down-limit 10mb` once meant 1.25 MB/s and `10MB` 10 MB/s.
 */
export function parseRate(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kKmMgG])?(?:(i)?(B|bytes?)|(bit|bps))?(?:\/s)?\s*$/i.exec(text)
  const ambiguous = /^\s*\d+(?:\.\d+)?\s*[kKmMgG]?b(?:\/s)?\s*$/.test(text)
  if (!m || ambiguous || (m[3] && !m[2]) || (m[4] && m[4] !== 'B' && !/^bytes?$/i.test(m[4]))) {
    const n = /^\s*(\d+(?:\.\d+)?\s*[kKmMgG]?)/.exec(text)?.[1]?.replace(/\s/g, '') ?? '10M'
    throw new UsageError(
      ambiguous
        ? `Cannot read rate ${JSON.stringify(text)}: a lowercase b could mean bits or bytes; write ${n}bit for bits or ${n.toUpperCase()}B for bytes per second`
        : `Cannot read rate ${JSON.stringify(text)}: write e.g. 40mbit (bits), 5MB or 5MiB (bytes) per second`,
      { details: { value: text } },
    )
  }
  const prefix = (m[2] ?? '').toLowerCase()
  const scale = m[3] ? { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[prefix]! : { '': 1, k: 1e3, m: 1e6, g: 1e9 }[prefix]!
  const bits = m[5] !== undefined
  return Math.round((Number(m[1]) * scale) / (bits ? 8 : 1))
}
