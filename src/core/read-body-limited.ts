import { ResponseInvalidError } from './errors.js'

/**
 * A response body, read to its end but never past `maxBytes`: a server that sends more (or
 * never stops) gets RESPONSE_INVALID after maxBytes, and the rest of its body is cancelled, so
 * a hostile or broken peer cannot grow the reader's memory. `what` names the body in the error.
 */
export async function readBodyLimited(res: Response, maxBytes: number, what: string): Promise<Uint8Array> {
  const declared = Number(res.headers.get('content-length') ?? NaN)
  if (declared > maxBytes) {
    await res.body?.cancel().catch(() => {})
    throw new ResponseInvalidError(`Cannot read ${what}: it is ${declared} bytes, more than the ${maxBytes} allowed`, { details: { maxBytes } })
  }
  if (!res.body) return new Uint8Array(0)
  const chunks: Uint8Array[] = []
  let total = 0
  const reader = res.body.getReader()
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      total += value.length
      if (total > maxBytes) throw new ResponseInvalidError(`Cannot read ${what}: it is longer than the ${maxBytes} bytes allowed`, { details: { maxBytes } })
      chunks.push(value)
    }
  } catch (err) {
    await reader.cancel().catch(() => {})
    throw err
  } finally {
    reader.releaseLock()
  }
  if (chunks.length === 1) return chunks[0]!
  const out = new Uint8Array(total)
  let at = 0
  for (const c of chunks) {
    out.set(c, at)
    at += c.length
  }
  return out
}
