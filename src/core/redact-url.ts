/**
 * A request URL fit for a log line: the passkey of an announce or scrape (a bearer token in the
 * path, BEP 3 clients cannot send headers) is cut out, whatever the spelling that reached the
 * server (`//announce/T`, `/ANNOUNCE/T`, `/./announce/T`, percent-encoded letters). Anything
 * after such a segment goes, query included; other URLs keep their path and lose only
 * `passkey`/`token` query values.
 */
export function redactUrl(url: string): string {
  const q = url.indexOf('?')
  const path = q === -1 ? url : url.slice(0, q)
  let decoded: string
  try {
    decoded = decodeURIComponent(path)
  } catch {
    decoded = path
  }
  const segments = decoded.split('/')
  const at = segments.findIndex((seg) => /^(announce|scrape|seed)$/i.test(seg.trim()))
  if (at !== -1) return `${segments.slice(0, at + 1).join('/')}/[redacted]`
  if (q === -1) return url
  return `${path}?${url.slice(q + 1).replace(/((?:^|&)(?:passkey|token)=)[^&]*/gi, '$1[redacted]')}`
}
