import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { packBundleToFile, type Digest } from '../../src/core/index.js'
import { createHandOff, createProcessAgent } from '../../src/launcher/index.js'
import { waitFor } from '../helpers/fleet.js'
import { useTempDirs } from '../helpers/temp-dir.js'
import { writeTree } from '../helpers/tree.js'

const tempDir = useTempDirs()
const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** A release whose process writes its pid to pids/<version> and then runs until stopped. */
async function release(version: string, pids: string): Promise<{ path: string; digest: Digest }> {
  const src = await tempDir()
  await writeTree(src, {
    'app.js': `require('fs').writeFileSync(${JSON.stringify(join(pids, version))}, String(process.pid)); setInterval(() => {}, 1000)`,
    'shoal.json': JSON.stringify({ entrypoint: ['node', 'app.js'], restart: 'always' }),
  })
  const path = join(await tempDir(), `${version}.tar`)
  return { path, ...(await packBundleToFile(src, path)) }
}

describe('createHandOff() (issue 17)', () => {
  it('activating a new version stops the previous one first; stopAll() stops what runs', async () => {
    const pids = await tempDir()
    const root = await tempDir()
    const handOff = createHandOff({ root, snapshotter: 'dir', agent: createProcessAgent({ env: process.env }) })
    const v1 = await release('1', pids)
    const v2 = await release('2', pids)
    const states: string[] = []
    const b1 = { path: v1.path, digest: v1.digest, release: 'app', version: '1' }
    expect(await handOff.stage(b1, (s) => void states.push(s))).toEqual({ verified: true })
    await handOff.activate(b1, (s) => void states.push(s))
    const pid1 = Number(await waitFor('v1 running', async () => readFile(join(pids, '1'), 'utf8').catch(() => undefined)))
    expect(alive(pid1)).toBe(true)
    const b2 = { path: v2.path, digest: v2.digest, release: 'app', version: '2' }
    await handOff.stage(b2, (s) => void states.push(s))
    await handOff.activate(b2, (s) => void states.push(s))
    const pid2 = Number(await waitFor('v2 running', async () => readFile(join(pids, '2'), 'utf8').catch(() => undefined)))
    expect(alive(pid1)).toBe(false) // stopped before v2 started, not left running beside it
    expect(alive(pid2)).toBe(true)
    expect(states).toEqual(['unpacking', 'launching', 'unpacking', 'launching'])
    await handOff.stopAll()
    expect(await handOff.stage(b2, () => {})).toEqual({ verified: false }) // installed already: not hashed again
    expect(alive(pid2)).toBe(false)
  }, 30_000)
})
