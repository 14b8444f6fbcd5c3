import { createReadStream } from 'node:fs'
import { readFile, readdir, readlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { FAILPOINT_NAMES, packBundleToFile, type Digest } from '../../src/core/index.js'
import { createLauncher } from '../../src/launcher/index.js'
import { runCli } from '../helpers/run-cli.js'
import { useTempDirs } from '../helpers/temp-dir.js'
import { writeTree } from '../helpers/tree.js'

const tempDir = useTempDirs()

async function bundle(body: string): Promise<{ path: string; digest: Digest }> {
  const src = await tempDir()
  await writeTree(src, { 'version.txt': body, 'shoal.json': JSON.stringify({ entrypoint: ['true'] }) })
  const path = join(await tempDir(), `${body}.tar`)
  return { path, ...(await packBundleToFile(src, path)) }
}

/** What `current` (and `previous`) of a release point at now, read the way the launcher reads them. */
async function pointer(root: string, which: 'current' | 'previous'): Promise<{ version: string; body: string } | undefined> {
  let target: string
  try {
    target = await readlink(join(root, 'releases/web', which))
  } catch {
    return undefined
  }
  const a = JSON.parse(await readFile(join(root, 'releases/web', target), 'utf8')) as { version: string; rootfs: string }
  return { version: a.version, body: await readFile(join(a.rootfs, 'version.txt'), 'utf8') }
}

/** Each launcher crash point, and which version `current` must show if the process dies there. */
const LAUNCHER_POINTS: Array<[string, '1' | '2']> = [
  ['launcher.install.unpacked', '1'],
  ['launcher.install.recorded', '1'],
  ['launcher.install.committed', '1'],
  ['launcher.activate.checked-out', '1'],
  ['launcher.activate.recorded', '1'],
  ['launcher.swap.linked@1', '1'], // moving `previous`
  ['launcher.activate.previous-moved', '1'],
  ['launcher.swap.linked@2', '1'], // moving `current`: the new link exists, not yet renamed over
  ['launcher.activate.current-moved', '2'],
]

describe('shoal launch killed at every crash point (issue 17)', () => {
  it('the launcher points listed here are all the launcher points there are', () => {
    expect(LAUNCHER_POINTS.map(([p]) => p.replace(/@\d+$/, '')).sort()).toEqual(
      expect.arrayContaining(Object.keys(FAILPOINT_NAMES).filter((n) => n.startsWith('launcher.'))),
    )
  })

  it.each(LAUNCHER_POINTS)('killed at %s: v%s is active and whole, a new launch finishes, gc leaves nothing cut off', async (point, expected) => {
    const root = await tempDir()
    const v1 = await bundle('one')
    const v2 = await bundle('two')
    expect((await runCli(['launch', v1.path, '--root', root, '-r', 'web', '--version', '1', '--install-only', '-q'])).code).toBe(0)
    const killed = await runCli(['launch', v2.path, '--root', root, '-r', 'web', '--version', '2', '--install-only', '-q'], { env: { SHOAL_FAILPOINTS: `${point.replace(/@(\d+)$/, '=kill@$1')}${point.includes('@') ? '' : '=kill'}` } })
    expect(killed.code, `${point}: ${killed.stderr}`).toBe(null) // died by SIGKILL, at the point
    const current = await pointer(root, 'current')
    expect(current).toEqual({ version: expected, body: expected === '1' ? 'one' : 'two' })
    const previous = await pointer(root, 'previous')
    if (previous) expect(previous).toEqual({ version: '1', body: 'one' })

    const again = await runCli(['launch', v2.path, '--root', root, '-r', 'web', '--version', '2', '--install-only', '-q'])
    expect(again.code, again.stderr).toBe(0)
    expect(await pointer(root, 'current')).toEqual({ version: '2', body: 'two' })
    const gc = await runCli(['gc', '--root', root, '--json'])
    expect(gc.code, gc.stderr).toBe(0)
    expect(await readdir(join(root, 'snapshots/active'))).toEqual([])
    expect((await readdir(join(root, 'snapshots/checkouts'))).filter((n) => n.endsWith('.partial'))).toEqual([])
    expect((await readdir(join(root, 'releases/web'))).filter((n) => n.startsWith('.'))).toEqual([]) // no stray temporary links... 
    expect((await runCli(['rollback', 'web', '--root', root])).code).toBe(0)
    expect(await pointer(root, 'current')).toEqual({ version: '1', body: 'one' })
  }, 60_000)

  it('current is never missing or unreadable while activations swap it (read 1,000s of times during 40 activations)', async () => {
    const root = await tempDir()
    const launcher = createLauncher({ root })
    const [v1, v2] = [await bundle('one'), await bundle('two')]
    for (const b of [v1, v2]) await launcher.install(() => createReadStream(b.path), { expectedDigest: b.digest })
    await launcher.activate({ release: 'web', version: '1', digest: v1.digest })
    let reads = 0
    let missing = 0
    let running = true
    const reader = (async () => {
      while (running) {
        const a = await launcher.current('web').catch(() => undefined)
        if (!a) missing++
        reads++
        await new Promise((r) => setImmediate(r))
      }
    })()
    for (let i = 0; i < 40; i++) await launcher.activate({ release: 'web', version: String(1 + (i % 2)), digest: i % 2 ? v1.digest : v2.digest })
    running = false
    await reader
    expect(reads).toBeGreaterThan(200)
    expect(missing).toBe(0)
    await writeFile(join(root, 'done'), '')
  }, 60_000)
})
