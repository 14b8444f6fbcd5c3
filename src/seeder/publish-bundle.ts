import { mkdtemp, open, rm, stat, type FileHandle } from 'node:fs/promises'
import type { KeyObject } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import {
  checkName,
  fromSystemError,
  packBundleToFile,
  signRelease,
  verifyBundleFile,
  type BundleFacts,
  type Digest,
  type RolloutRecord,
  type SeederApi,
  type TrackerApi,
} from '../core/index.js'

/** Bytes read from the bundle per chunk of the upload. */
const UPLOAD_CHUNK = 1 << 20

export interface PublishInit {
  release: string
  version: string
  /** Move release@channel to the new version. */
  channel?: string
  /** Sign (release, version, digest) with this ed25519 key. */
  signingKey?: KeyObject
  /** Bytes uploaded so far, of `total`. */
  onUpload?: (sent: number, total: number) => void
  signal?: AbortSignal
}

export interface PublishResult {
  ok: true
  digest: Digest
  size: number
  release: string
  version: string
  /** False when this version was already published with the same digest. */
  newVersion: boolean
  uploaded: BundleFacts & { status: number }
  rollout: RolloutRecord | null
}

/**
 * What a build job does (`shoal publish`): pack a build output (or verify a bundle file), stream
 * it to a seeder (which checks its sha256 as it arrives and registers its torrent), publish the
 * version (immutable: the same digest again is fine, another is VERSION_CONFLICT), and move a
 * channel if asked. The client side of the seeder's upload API and the tracker's registry.
 */
export async function publishBundle(path: string, init: PublishInit, components: { seeder: SeederApi; tracker: TrackerApi }): Promise<PublishResult> {
  checkName('release', init.release)
  checkName('version', init.version)
  if (init.channel) checkName('channel', init.channel)
  const st = await stat(path).catch((err: unknown) => {
    throw fromSystemError(err, 'read build output', path)
  })
  let tmp: string | undefined
  try {
    let bundle = resolve(path)
    let digest: Digest
    let size: number
    if (st.isDirectory()) {
      tmp = await mkdtemp(join(tmpdir(), 'shoal-publish-'))
      bundle = join(tmp, 'bundle.tar')
      ;({ digest, size } = await packBundleToFile(resolve(path), bundle))
    } else {
      ;({ digest, size } = await verifyBundleFile(bundle))
    }
    // A fresh stream for each seeder tried: with several (--seeder a,b), one that refuses the
    // connection has the upload start again on the next. Read straight into the chunks the
    // request sends: Readable.toWeb() copied every chunk once more (a quarter of the upload's CPU).
    const body = (): ReadableStream<Uint8Array> => {
      let sent = 0
      let file: FileHandle | undefined
      return new ReadableStream<Uint8Array>({
        async pull(controller) {
          const chunk = Buffer.allocUnsafe(UPLOAD_CHUNK)
          let bytesRead: number
          try {
            file ??= await open(bundle, 'r')
            ;({ bytesRead } = await file.read(chunk, 0, UPLOAD_CHUNK, null))
          } catch (err) {
            await file?.close()
            throw fromSystemError(err, 'read the bundle to upload', bundle)
          }
          if (bytesRead === 0) {
            await file.close()
            return controller.close()
          }
          sent += bytesRead
          init.onUpload?.(sent, size)
          controller.enqueue(bytesRead === UPLOAD_CHUNK ? chunk : chunk.subarray(0, bytesRead))
        },
        cancel: () => file?.close(),
      })
    }
    const uploaded = await components.seeder.upload(digest, body, size, { signal: init.signal })
    const signature = init.signingKey ? signRelease({ release: init.release, version: init.version, digest }, init.signingKey) : undefined
    const published = await components.tracker.publishVersion(init.release, init.version, signature ? { digest, signature } : { digest }, { signal: init.signal })
    const rollout = init.channel ? (await components.tracker.moveChannel(init.release, init.channel, init.version, { signal: init.signal })).rollout : null
    return { ok: true, digest, size, release: init.release, version: init.version, newVersion: published.created, uploaded, rollout }
  } finally {
    if (tmp) await rm(tmp, { recursive: true, force: true })
  }
}
