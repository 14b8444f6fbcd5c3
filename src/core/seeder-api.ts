import type { ApiClient, CallOptions } from './api-client.js'
import type { Digest } from './digest.js'
import { BundleFactsSchema, checkAnswer, GcAnswerSchema, type BundleFacts } from './wire/index.js'

type O = Pick<CallOptions, 'signal' | 'timeoutMs'>

/** A seeder's API, typed: uploads and retention sweeps. */
export interface SeederApi {
  readonly url: string
  /** Streams a bundle to the seeder (its sha256 is checked there while it arrives); a function gives a fresh stream per seeder tried. */
  upload(digest: Digest, body: ReadableStream | Uint8Array | (() => ReadableStream), size: number, o?: O): Promise<BundleFacts & { status: number }>
  gc(o?: O): Promise<{ removed: Digest[] }>
}

export function createSeederApi(client: ApiClient): SeederApi {
  return {
    url: client.url,
    async upload(digest, body, size, o = {}) {
      // No time limit: a large bundle takes as long as the link needs (the signal still ends it).
      const res = await client.call('PUT', `/v1/bundles/${digest}`, { timeoutMs: null, ...o, raw: { body, contentType: 'application/octet-stream', length: size } })
      const facts = checkAnswer(BundleFactsSchema, await res.json(), 'the upload answer') as BundleFacts
      return { ...facts, status: res.status }
    },
    gc: async (o) => (await client.json('POST', '/v1/gc', GcAnswerSchema, { timeoutMs: 120_000, ...o })) as { removed: Digest[] },
  }
}
