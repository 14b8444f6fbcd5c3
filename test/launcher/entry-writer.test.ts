import { createHash } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { mkdir, readFile, readdir, stat, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { ManifestEntry } from '../../src/core/index.js'
import { createEntryWriter } from '../../src/launcher/entry-writer.js'
import { setUmask } from '../helpers/umask.js'
import { useTempDirs } from '../helpers/temp-dir.js'

const tempDir = useTempDirs()
const sha = (s: string) => createHash('sha256').update(s).digest('hex')
const file = (path: string, body: string, mode = 0o644): [ManifestEntry, AsyncIterable<Buffer>] => [
  { path, type: 'file', mode: mode as 0o644, size: body.length, sha256: sha(body) },
  (async function* () {
    yield Buffer.from(body)
  })(),
]
const dir = (path: string): ManifestEntry => ({ path, type: 'dir', mode: 0o755 })

/**
 * The extractor's guards on their own: entries fed straight to the writer, past verification,
 * each of which verification would have refused. Whatever is planted outside must stay as it was.
 */
describe('createEntryWriter(): the extractor holds without verification (issue 17)', () => {
  async function setup(): Promise<{ root: string; outside: string; victim: string }> {
    const base = await tempDir()
    const root = join(base, 'root')
    const outside = join(base, 'outside')
    await mkdir(root)
    await mkdir(outside)
    const victim = join(outside, 'victim')
    await writeFile(victim, 'precious\n')
    return { root, outside, victim }
  }

  it('never writes through a symlink already at the target (O_EXCL|O_NOFOLLOW): refused, the target untouched', async () => {
    const { root, victim } = await setup()
    await symlink(victim, join(root, 'evil'))
    const w = createEntryWriter(root)
    await expect(w.write(...file('evil', 'owned\n'))).rejects.toMatchObject({ code: expect.stringMatching(/^(DUPLICATE_ENTRY|UNSAFE_SYMLINK_PARENT)$/) })
    expect(await readFile(victim, 'utf8')).toBe('precious\n')
  })

  it('never overwrites a file already there (O_EXCL): DUPLICATE_ENTRY, its content unchanged', async () => {
    const { root } = await setup()
    const w = createEntryWriter(root)
    await w.write(...file('a.txt', 'first version of a\n'))
    await expect(w.write(...file('a.txt', 'second\n'))).rejects.toMatchObject({ code: 'DUPLICATE_ENTRY' })
    expect(await readFile(join(root, 'a.txt'), 'utf8')).toBe('first version of a\n')
  })

  it('never writes under a symlink it made, nor under a directory it did not make: UNSAFE_SYMLINK_PARENT', async () => {
    const { root, outside } = await setup()
    const w = createEntryWriter(root)
    await w.write({ path: 'etc', type: 'symlink', mode: 0o777, target: outside }, undefined)
    await expect(w.write(...file('etc/passwd', 'root::0:0::/:/bin/sh\n'))).rejects.toMatchObject({ code: 'UNSAFE_SYMLINK_PARENT' })
    await mkdir(join(root, 'planted')) // a directory that was not made by this bundle
    await expect(w.write(...file('planted/x', 'x'))).rejects.toMatchObject({ code: 'UNSAFE_SYMLINK_PARENT' })
    await expect(w.write(...file('missing/x', 'x'))).rejects.toMatchObject({ code: 'UNSAFE_SYMLINK_PARENT' })
    expect(await readdir(outside)).toEqual(['victim'])
    await w.write(dir('lib'), undefined)
    await w.write(...file('lib/ok.txt', 'fine\n'))
    expect(await readFile(join(root, 'lib/ok.txt'), 'utf8')).toBe('fine\n')
  })

  it.each([
    ['/etc/cron.d/evil', 'UNSAFE_ABSOLUTE_PATH'],
    ['../../outside/victim', 'UNSAFE_PATH_TRAVERSAL'],
    ['a/../../x', 'UNSAFE_PATH_TRAVERSAL'],
    ['./a', 'UNSAFE_TAR_ENTRY'],
    ['', 'UNSAFE_TAR_ENTRY'],
  ])('refuses the path %j with %s', async (path, code) => {
    const { root, victim } = await setup()
    const w = createEntryWriter(root)
    await expect(w.write(...file(path, 'x'))).rejects.toMatchObject({ code })
    expect(await readFile(victim, 'utf8')).toBe('precious\n')
    expect(existsSync('/etc/cron.d/evil')).toBe(false)
  })

  it('refuses setuid and other modes, and types other than file, dir, symlink', async () => {
    const { root } = await setup()
    const w = createEntryWriter(root)
    await expect(w.write(...file('sh', '#!/bin/sh\n', 0o4755))).rejects.toMatchObject({ code: 'UNSAFE_SETUID' })
    await expect(w.write(...file('w', 'x', 0o666))).rejects.toMatchObject({ code: 'UNSAFE_SETUID' })
    await expect(w.write({ path: 'fifo', type: 'fifo' } as unknown as ManifestEntry, undefined)).rejects.toMatchObject({ code: 'UNSAFE_SPECIAL_FILE' })
    expect(await readdir(root)).toEqual([])
  })

  it('gives files exactly the manifest mode whatever the umask', async () => {
    const { root } = await setup()
    const w = createEntryWriter(root)
    const old = setUmask(0o077)
    try {
      await w.write(...file('run', '#!/bin/sh\n', 0o755))
    } finally {
      setUmask(old)
    }
    expect((await stat(join(root, 'run'))).mode & 0o7777).toBe(0o755)
  })
})

describe('the hostile corpus leaves the real targets alone (issue 17)', () => {
  it('after every fixture is refused, /etc/passwd, /etc/shadow and /etc/cron.d are as they were', async () => {
    const { extractBundle } = await import('../../src/launcher/index.js')
    const { createReadStream } = await import('node:fs')
    const hostileDir = new URL('../../fixtures/hostile/', import.meta.url)
    const index = JSON.parse(readFileSync(new URL('index.json', hostileDir), 'utf8')) as Record<string, unknown>
    const fingerprint = () => ['/etc/passwd', '/etc/shadow'].map((p) => (existsSync(p) ? sha(readFileSync(p, 'latin1')) : 'absent')).join()
    const before = fingerprint()
    const cron = existsSync('/etc/cron.d') ? (await readdir('/etc/cron.d')).sort() : []
    for (const name of Object.keys(index)) {
      const outer = await tempDir()
      await expect(extractBundle(createReadStream(new URL(`${name}.tar`, hostileDir)), join(outer, 'a', 'b', 'rootfs'))).rejects.toHaveProperty('code')
    }
    expect(fingerprint()).toBe(before)
    expect(existsSync('/etc/cron.d') ? (await readdir('/etc/cron.d')).sort() : []).toEqual(cron)
  })
})
