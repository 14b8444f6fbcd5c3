import {
  AuthForbiddenError,
  AuthInvalidError,
  NotFoundError,
  TrackerRefusedError,
  TrackerUnreachableError,
  type Digest,
  type HostState,
  type ShoalError,
} from '../core/index.js'

export interface Target {
  follow: string
  version: string
  digest: Digest
  rolloutId: string
}

export interface HostReport {
  digest: Digest
  state: HostState
  bytesDone: number
  bytesFromPeers?: number
  bytesFromOrigin?: number
  peers?: number
  rate?: number
  errorCode?: string
  message?: string
}

export interface TrackerClient {
  readonly url: string
  readonly announceUrl: string
  registerHost(labels: Record<string, string>, follows: string[], signal?: AbortSignal): Promise<void>
  /** Long-polls the host's targets; resolves at once when they differ from `since`. */
  targets(since: string | undefined, waitSeconds: number, signal?: AbortSignal): Promise<{ targets: Target[]; etag: string }>
  torrent(digest: Digest, signal?: AbortSignal): Promise<Uint8Array>
  version(release: string, version: string, signal?: AbortSignal): Promise<{ digest: Digest; signature?: unknown }>
  report(hostId: string, r: HostReport, signal?: AbortSignal): Promise<void>
}

/** The host's view of the tracker API: typed errors (unreachable vs refused) and nothing else. */
export function createTrackerClient(init: { url: string; token: string; hostId: string }): TrackerClient {
  const base = init.url.replace(/\/$/, '')
  const call = async (method: string, path: string, body?: unknown, signal?: AbortSignal, timeoutMs = 15_000): Promise<Response> => {
    let res: Response
    try {
      res = await fetch(`${base}${path}`, {
        method,
        headers: { authorization: `Bearer ${init.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: signal ? AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]) : AbortSignal.timeout(timeoutMs),
      })
    } catch (err) {
      if (signal?.aborted) throw err
      throw new TrackerUnreachableError(`Cannot reach the tracker at ${base}: ${(err as Error).message}`, { cause: err })
    }
    if (res.ok) return res
    const text = await res.text().catch(() => '')
    let parsed: { code?: string; message?: string } = {}
    try {
      parsed = JSON.parse(text) as typeof parsed
    } catch {
      /* not JSON */
    }
    const msg = `${method} ${path}: ${res.status} ${parsed.message ?? text.slice(0, 200)}`
    let err: ShoalError
    if (res.status >= 500) err = new TrackerUnreachableError(`The tracker failed ${msg}`)
    else if (res.status === 404) err = new NotFoundError(`The tracker does not know ${msg}`)
    else if (res.status === 401) err = new AuthInvalidError(`The tracker refused the host token: ${msg}`)
    else if (res.status === 403) err = new AuthForbiddenError(`The host token may not ${msg}`)
    else err = new TrackerRefusedError(`The tracker refused ${msg}`, { details: { status: res.status, code: parsed.code } })
    throw err
  }
  const host = encodeURIComponent(init.hostId)
  return {
    url: base,
    announceUrl: `${base}/announce/${init.token}`,
    async registerHost(labels, follows, signal) {
      await call('PUT', `/v1/hosts/${host}`, { labels, follows }, signal)
    },
    async targets(since, waitSeconds, signal) {
      const q = since === undefined ? '' : `?since=${encodeURIComponent(since)}&wait=${waitSeconds}`
      const res = await call('GET', `/v1/hosts/${host}/targets${q}`, undefined, signal, (waitSeconds + 15) * 1000)
      return (await res.json()) as { targets: Target[]; etag: string }
    },
    async torrent(digest, signal) {
      return new Uint8Array(await (await call('GET', `/v1/bundles/${digest}/torrent`, undefined, signal)).arrayBuffer())
    },
    async version(release, version, signal) {
      return (await (await call('GET', `/v1/releases/${encodeURIComponent(release)}/versions/${encodeURIComponent(version)}`, undefined, signal)).json()) as {
        digest: Digest
        signature?: unknown
      }
    },
    async report(hostId, r, signal) {
      await call('POST', `/v1/hosts/${encodeURIComponent(hostId)}/reports`, r, signal)
    },
  }
}
