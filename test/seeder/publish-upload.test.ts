import { randomBytes } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { createApiClient, createSeederApi, createTrackerApi } from '../../src/core/index.js'
import { publishBundle } from '../../src/seeder/index.js'
import { TOKENS } from '../helpers/fleet.js'
import { startStack, type Stack } from '../helpers/stack.js'
import { useTempDirs } from '../helpers/temp-dir.js'

const tempDir = useTempDirs()
const stacks: Stack[] = []
afterEach(async () => {
  for (const s of stacks.splice(0)) await s.stop()
})

describe('the upload of shoal publish', () => {
  it('streams a bundle of several chunks, the last one short, reporting progress up to its size; the seeder took the same bytes and stops at once with a reader still connected', async () => {
    const dir = await tempDir()
    const stack = await startStack(dir)
    stacks.push(stack)
    const tree = join(dir, 'tree')
    await mkdir(tree)
    await writeFile(join(tree, 'a.bin'), randomBytes((3 << 20) + 12_345))
    const client = (url: string, server: 'tracker' | 'seeder') => createApiClient({ url, token: TOKENS.publisher, server })
    const progress: number[] = []
    const r = await publishBundle(
      tree,
      { release: 'app', version: '1', onUpload: (sent, total) => (expect(total).toBeGreaterThan(3 << 20), progress.push(sent)) },
      { seeder: createSeederApi(client(stack.seederUrl, 'seeder')), tracker: createTrackerApi(client(stack.trackerUrl, 'tracker'), TOKENS.publisher) },
    )
    expect(progress.length).toBeGreaterThanOrEqual(4)
    expect(progress).toEqual([...progress].sort((a, b) => a - b))
    expect(progress.at(-1)).toBe(r.size)
    expect(r.size % (1 << 20)).not.toBe(0)
    // The seeder checked the sha256 of what arrived against the digest it was told.
    expect(r.uploaded).toMatchObject({ digest: r.digest, size: r.size, created: true })

    // A client that read the bundle from the web seed keeps its connection (keep-alive, as a
    // fetcher's HTTP client does): the seeder still stops at once, it does not wait the minute
    // until that connection times out.
    const web = await fetch(`${stack.seederUrl}/bundles/${r.digest.slice(7)}.tar`, { headers: { authorization: `Bearer ${TOKENS.seeder}` } })
    expect(web.status).toBe(200)
    expect((await web.arrayBuffer()).byteLength).toBe(r.size)
    stacks.splice(stacks.indexOf(stack), 1)
    let timer: NodeJS.Timeout | undefined
    const stopped = await Promise.race([stack.stop().then(() => 'stopped'), new Promise((r) => (timer = setTimeout(() => r('still waiting after 10 s'), 10_000)))])
    clearTimeout(timer)
    expect(stopped).toBe('stopped')
  })
})
