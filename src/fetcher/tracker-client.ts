import {
  AuthForbiddenError,
  AuthInvalidError,
  checkAnswer,
  NotFoundError,
  readBodyLimited,
  TargetsAnswerSchema,
  TrackerRefusedError,
  TrackerUnreachableError,
  VersionAnswerSchema,
  type Digest,
  type HostReport,
  type ShoalError,
  type Target,
} from '../core/index.js'

export type { HostReport, Target }

/** Largest .torrent a host accepts (the registry stores at most ~512 KiB of one). */
const MAX_TORRENT_BYTES = 1 << 20
/** Largest JSON answer a host reads from the tracker. */
const MAX_JSON_BYTES = 1 << 20

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
export function createTrackerClient(init: { url: string; token: string; hostId: string; fetch?: typeof fetch }): TrackerClient {
  const base = init.url.replace(/\/$/, '')
  const httpFetch = init.fetch ?? fetch
  const json = async (res: Response, what: string): Promise<unknown> => {
    const body = await readBodyLimited(res, MAX_JSON_BYTES, what)
    try {
      return JSON.parse(Buffer.from(body).toString('utf8'))
    } catch (err) {
      throw new TrackerRefusedError(`Cannot read ${what}: it is not JSON`, { cause: err })
    }
  }
  const call = async (method: string, path: string, body?: unknown, signal?: AbortSignal, timeoutMs = 15_000): Promise<Response> => {
    let res: Response
    try {
      res = await httpFetch(`${base}${path}`, {
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
      // Checked before anything is done with it: a digest becomes a file name, a version a path.
      return checkAnswer(TargetsAnswerSchema, await json(res, 'the targets answer'), 'the targets answer') as { targets: Target[]; etag: string }
    },
    async torrent(digest, signal) {
      return readBodyLimited(await call('GET', `/v1/bundles/${digest}/torrent`, undefined, signal), MAX_TORRENT_BYTES, `the torrent of ${digest}`)
    },
    async version(release, version, signal) {
      const res = await call('GET', `/v1/releases/${encodeURIComponent(release)}/versions/${encodeURIComponent(version)}`, undefined, signal)
      return checkAnswer(VersionAnswerSchema, await json(res, 'the version record'), 'the version record') as { digest: Digest; signature?: unknown }
    },
    async report(hostId, r, signal) {
      await call('POST', `/v1/hosts/${encodeURIComponent(hostId)}/reports`, r, signal)
    },
  }
}
