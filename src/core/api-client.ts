import type { Static, TSchema } from '@sinclair/typebox'
import { AbortedError, errorFromAnswer, ResponseInvalidError, SeederUnreachableError, ShoalError, TrackerUnreachableError } from './errors.js'
import { readBodyLimited } from './read-body-limited.js'
import { checkAnswer } from './wire/index.js'

export interface ApiClientInit {
  /**
   * The server's base URL (`http://tracker:7700`; a trailing slash is fine), or several replicas'
   * separated by commas (`http://t1:7700,http://t2:7700`): the client starts at a random one (so
   * a fleet spreads its load) and moves on to the next when one cannot be reached.
   */
  url: string
  /** Bearer token sent with every request. */
  token: string
  /** Which server this is: names it in errors (TRACKER_UNREACHABLE / SEEDER_UNREACHABLE). */
  server: 'tracker' | 'seeder'
  /** HTTP client (one that trusts a private CA); default the global fetch. */
  fetch?: typeof fetch
  /** Per-request time limit in ms (default 15 s; a request may set its own). */
  timeoutMs?: number
  /** Largest JSON answer read, in bytes (default 1 MiB). */
  maxAnswerBytes?: number
  /** Retries of retriable requests on an unreachable server or a 5xx: attempts and backoff (default 0). */
  retry?: { attempts: number; minMs: number; maxMs: number }
  /** Random in [0, 1), for the backoff's jitter. */
  random?: () => number
}

export interface CallOptions {
  /** A JSON body. */
  body?: unknown
  /** A raw body (an upload), with its content type and length; a function makes a fresh body for each replica tried (a stream is read once). */
  raw?: { body: RequestInit['body'] | (() => RequestInit['body']); contentType: string; length?: number }
  headers?: Record<string, string>
  signal?: AbortSignal
  timeoutMs?: number | null
  /** Retry this request per the client's policy (default: GET and HEAD only). */
  retriable?: boolean
}

export interface ApiClient {
  /** The replica requests go to now (the first one that answered last). */
  readonly url: string
  /** Every replica, in the order given. */
  readonly urls: readonly string[]
  /** The answer of a request that succeeded (2xx); anything else is the ShoalError it stands for. */
  call(method: string, path: string, options?: CallOptions): Promise<Response>
  /** call(), with the JSON answer read within the byte bound and checked against `schema`. */
  json<T extends TSchema>(method: string, path: string, schema: T, options?: CallOptions): Promise<Static<T>>
}

/**
 * The one HTTP client of Shoal's APIs (tracker and seeder): bearer auth, a time limit on every
 * request, answers read within a byte bound and checked against their wire contract, and one
 * mapping from answers to errors: a Shoal error answer becomes the registered error of its code
 * (so its kind and the CLI's exit code carry over), a network failure or a 5xx without one is
 * TRACKER_UNREACHABLE or SEEDER_UNREACHABLE; retriable requests are retried with jittered backoff.
 */
export function createApiClient(init: ApiClientInit): ApiClient {
  const bases = init.url.split(',').map((u) => u.trim().replace(/\/+$/, '')).filter(Boolean)
  if (bases.length === 0) throw new TypeError('createApiClient() needs a URL')
  const httpFetch = init.fetch ?? fetch
  const { timeoutMs = 15_000, maxAnswerBytes = 1 << 20, random = Math.random } = init
  let current = bases.length > 1 ? Math.floor(random() * bases.length) : 0
  const retry = init.retry ?? { attempts: 0, minMs: 0, maxMs: 0 }
  const Unreachable = init.server === 'tracker' ? TrackerUnreachableError : SeederUnreachableError

  const once = async (base: string, method: string, path: string, o: CallOptions): Promise<Response> => {
    const limit = o.timeoutMs === null ? undefined : AbortSignal.timeout(o.timeoutMs ?? timeoutMs)
    const signal = o.signal && limit ? AbortSignal.any([o.signal, limit]) : (o.signal ?? limit)
    const headers: Record<string, string> = { ...o.headers, authorization: `Bearer ${init.token}` }
    let body: RequestInit['body'] | undefined
    if (o.raw) {
      headers['content-type'] = o.raw.contentType
      if (o.raw.length !== undefined) headers['content-length'] = String(o.raw.length)
      body = typeof o.raw.body === 'function' ? o.raw.body() : o.raw.body
    } else if (o.body !== undefined) {
      headers['content-type'] = 'application/json'
      body = JSON.stringify(o.body)
    }
    let res: Response
    try {
      res = await httpFetch(`${base}${path}`, { method, headers, body, signal, ...(o.raw ? { duplex: 'half' } : {}) } as RequestInit)
    } catch (err) {
      if (o.signal?.aborted) throw new AbortedError(`Cannot ${method} ${path}: it was aborted`, { cause: err })
      throw new Unreachable(`Cannot reach the ${init.server} at ${base}: ${(err as Error).message}`, { cause: err, details: { url: base } })
    }
    if (res.ok) return res
    const text = Buffer.from(await readBodyLimited(res, 64 << 10, 'an error answer').catch(() => new Uint8Array())).toString('utf8')
    let answer: { code?: unknown; message?: unknown; details?: unknown } = {}
    try {
      answer = JSON.parse(text) as typeof answer
    } catch {
      /* not a Shoal answer */
    }
    if (res.status >= 500 && typeof answer.code !== 'string') throw new Unreachable(`The ${init.server} at ${base} failed ${method} ${path}: HTTP ${res.status}`, { details: { status: res.status } })
    throw errorFromAnswer(res.status, answer, `${method} ${path}: HTTP ${res.status} ${text.slice(0, 200)}`.trim())
  }

  /**
   * One pass over the replicas, from the current one: a replica that cannot be reached is left
   * for the next. A request that may have changed something (not retriable) moves on only when
   * it never reached the replica (connection refused), never after it may have been acted on.
   */
  const anyReplica = async (method: string, path: string, o: CallOptions, retriable: boolean): Promise<Response> => {
    for (let tried = 1; ; tried++) {
      const base = bases[current]!
      try {
        return await once(base, method, path, o)
      } catch (err) {
        const away = err instanceof ShoalError && (err.code === 'TRACKER_UNREACHABLE' || err.code === 'SEEDER_UNREACHABLE' || err.code === 'STORE_UNAVAILABLE')
        if (tried >= bases.length || !away || !(retriable || neverConnected(err))) throw err
        current = (current + 1) % bases.length
      }
    }
  }

  const call = async (method: string, path: string, o: CallOptions = {}): Promise<Response> => {
    const retriable = o.retriable ?? (method === 'GET' || method === 'HEAD')
    for (let attempt = 0; ; attempt++) {
      try {
        return await anyReplica(method, path, o, retriable)
      } catch (err) {
        const again = retriable && attempt < retry.attempts && err instanceof ShoalError && (err.code === 'TRACKER_UNREACHABLE' || err.code === 'SEEDER_UNREACHABLE')
        if (!again) throw err
        const wait = Math.min(retry.maxMs, retry.minMs * 2 ** attempt) * (0.5 + random() / 2)
        await new Promise<void>((resolve, reject) => {
          const t = setTimeout(resolve, wait)
          o.signal?.addEventListener('abort', () => (clearTimeout(t), reject(new AbortedError(`Cannot ${method} ${path}: it was aborted`))), { once: true })
        })
      }
    }
  }

  return {
    get url() {
      return bases[current]!
    },
    urls: bases,
    call,
    async json(method, path, schema, o = {}) {
      const res = await call(method, path, o)
      const bytes = await readBodyLimited(res, maxAnswerBytes, `the answer to ${method} ${path}`)
      let value: unknown
      try {
        value = JSON.parse(Buffer.from(bytes).toString('utf8'))
      } catch (err) {
        throw new ResponseInvalidError(`Cannot read the answer to ${method} ${path}: it is not JSON`, { cause: err })
      }
      return checkAnswer(schema, value, `the answer to ${method} ${path}`)
    },
  }
}

/** A request that failed before any connection was made, so no server can have acted on it. */
function neverConnected(err: ShoalError): boolean {
  let c: unknown = err.cause
  for (let depth = 0; c && depth < 4; depth++, c = (c as { cause?: unknown }).cause) {
    if (['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN'].includes((c as { code?: string }).code ?? '')) return true
  }
  return false
}
