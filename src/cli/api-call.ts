import { fromSystemError, ShoalError, TrackerUnreachableError, type ErrorKind } from '../core/index.js'

export interface ApiCallInit extends Omit<RequestInit, 'headers'> {
  token: string
  headers?: Record<string, string>
  /** Which server this is, for the error when it cannot be reached. */
  server?: 'tracker' | 'seeder'
  /** HTTP client (one that trusts a private CA); default the global fetch. */
  fetch?: typeof fetch
}

/** The error a Shoal server's `{statusCode, code, message}` answer stands for, with the CLI's exit code by kind. */
export async function errorFromResponse(r: Response, url: string): Promise<ShoalError> {
  const body = (await r.json().catch(() => ({}))) as { code?: string; message?: string }
  const kind: ErrorKind = r.status === 409 ? 'conflict' : r.status === 401 || r.status === 403 ? 'auth' : r.status === 404 ? 'not-found' : r.status < 500 ? 'invalid' : 'io'
  return new ShoalError(body.code ?? 'REQUEST_FAILED', kind, r.status, body.message ?? `${url}: HTTP ${r.status}`)
}

/** One authenticated request to the tracker or a seeder; a non-2xx answer becomes its ShoalError. */
export async function apiCall(url: string, init: ApiCallInit): Promise<Response> {
  const { token, headers, server = 'tracker', fetch: httpFetch = fetch, ...rest } = init
  let r: Response
  try {
    r = await httpFetch(url, { signal: AbortSignal.timeout(30_000), ...rest, headers: { ...headers, authorization: `Bearer ${token}` } })
  } catch (err) {
    if (server === 'tracker') throw new TrackerUnreachableError(`Cannot reach the tracker at ${new URL(url).origin}: ${(err as Error).message}`, { cause: err })
    throw fromSystemError(err, `reach ${new URL(url).origin}`)
  }
  if (!r.ok) throw await errorFromResponse(r, url)
  return r
}
