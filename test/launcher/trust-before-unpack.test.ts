import { createReadStream } from 'node:fs'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { createTrustPolicy, generateSigningKey, packBundleToFile, parsePrivateKey, signRelease, type Digest } from '../../src/core/index.js'
import { createLauncher } from '../../src/launcher/index.js'
import { useTempDirs } from '../helpers/temp-dir.js'
import { writeTree } from '../helpers/tree.js'

const tempDir = useTempDirs()

async function makeBundle(body: string): Promise<{ path: string; digest: Digest }> {
  const src = await tempDir()
  await writeTree(src, { 'version.txt': body })
  const path = join(await tempDir(), 'b.tar')
  const { digest } = await packBundleToFile(src, path)
  return { path, digest }
}

/** A bundle source that records whether anyone read it. */
function watched(path: string): { open: () => Readable; opened: () => boolean } {
  let opened = false
  return {
    open: () => ((opened = true), createReadStream(path)),
    opened: () => opened,
  }
}

const trusted = generateSigningKey('release-team')
const stranger = generateSigningKey('someone-else')
const policy = createTrustPolicy(new Map([[trusted.publicKey.keyId, trusted.publicKey]]))

describe('the launcher trust policy, checked before unpacking', () => {
  it('refuses an unsigned or wrongly signed release without reading a byte of the bundle', async () => {
    const root = await tempDir()
    const launcher = createLauncher({ root })
    const b = await makeBundle('one')
    const cases: Array<[unknown, string]> = [
      [undefined, 'SIGNATURE_MISSING'],
      [signRelease({ release: 'web', version: '1', digest: b.digest }, parsePrivateKey(stranger.privateKeyPem)), 'SIGNATURE_UNTRUSTED'],
      [signRelease({ release: 'web', version: '2', digest: b.digest }, parsePrivateKey(trusted.privateKeyPem)), 'SIGNATURE_SUBJECT_MISMATCH'],
      ['{not json', 'SIGNATURE_FORMAT'],
    ]
    for (const [signature, code] of cases) {
      const src = watched(b.path)
      await expect(launcher.install(src.open, { expectedDigest: b.digest, trust: { policy, release: 'web', version: '1', signature } })).rejects.toMatchObject({ code })
      expect(src.opened()).toBe(false)
    }
    // Nothing was prepared, committed or recorded.
    expect(await launcher.snapshotter.list()).toEqual({ images: [], checkouts: [], active: [] })
  })

  it('accepts a trusted signature, and then the bundle must hash to the signed digest', async () => {
    const root = await tempDir()
    const launcher = createLauncher({ root })
    const good = await makeBundle('good')
    const other = await makeBundle('other')
    const sig = signRelease({ release: 'web', version: '1', digest: good.digest }, parsePrivateKey(trusted.privateKeyPem))
    // A signed digest with other bytes behind it: unpacked, found wrong, nothing kept.
    await expect(launcher.install(() => createReadStream(other.path), { expectedDigest: good.digest, trust: { policy, release: 'web', version: '1', signature: sig } })).rejects.toMatchObject({ code: 'BUNDLE_DIGEST_MISMATCH' })
    await expect(launcher.activate({ release: 'web', version: '1', digest: other.digest })).rejects.toMatchObject({ code: 'RELEASE_NOT_ACTIVE' })
    const ok = await launcher.install(() => createReadStream(good.path), { expectedDigest: good.digest, trust: { policy, release: 'web', version: '1', signature: sig } })
    expect(ok).toMatchObject({ digest: good.digest, verified: true })
  })

  it('will not check trust without the digest the signature binds', async () => {
    const launcher = createLauncher({ root: await tempDir() })
    const b = await makeBundle('x')
    const src = watched(b.path)
    await expect(launcher.install(src.open, { trust: { policy, release: 'web', version: '1', signature: undefined } })).rejects.toThrow(/expected digest/)
    expect(src.opened()).toBe(false)
  })

  it('without trusted keys the policy asks for nothing', () => {
    const open = createTrustPolicy()
    expect(open.required).toBe(false)
    expect(() => open.check({ release: 'web', version: '1', digest: `sha256:${'0'.repeat(64)}` }, undefined)).not.toThrow()
    expect(policy.required).toBe(true)
  })
})
