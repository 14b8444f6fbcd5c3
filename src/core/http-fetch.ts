export interface HttpFetchInit {
  /** PEM certificates of the CAs to trust for HTTPS (a private CA); default the system's. */
  ca?: string | Buffer
}

/**
 * The HTTP client every Shoal client part uses (tracker, seeder, web seed, announce): the
 * standard fetch, trusting `ca` for HTTPS when given (through undici's Agent, loaded only
 * then). One connection pool per client, so a daemon's many small requests reuse connections.
 */
export function createHttpFetch(init: HttpFetchInit = {}): typeof fetch {
  if (init.ca === undefined) return fetch
  const ca = init.ca
  let ready: Promise<(input: unknown, options: unknown) => Promise<unknown>> | undefined
  const load = async (): Promise<(input: unknown, options: unknown) => Promise<unknown>> => {
    const { Agent, fetch: undiciFetch } = await import('undici')
    const dispatcher = new Agent({ connect: { ca } })
    return (input, options) => undiciFetch(input as never, { ...(options as object), dispatcher } as never)
  }
  return (async (input: Parameters<typeof fetch>[0], options?: RequestInit) => {
    const f = await (ready ??= load())
    return f(input, options)
  }) as typeof fetch
}
