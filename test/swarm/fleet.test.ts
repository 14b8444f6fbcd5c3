import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { startFleet, waitFor, type Fleet } from '../helpers/fleet.js'
import { useTempDirs } from '../helpers/temp-dir.js'

const tempDir = useTempDirs()
const fleets: Fleet[] = []
afterEach(() => {
  for (const f of fleets.splice(0)) f.kill()
})
const sha256File = async (p: string) => `sha256:${createHash('sha256').update(await readFile(p)).digest('hex')}`
const MiB = 1 << 20

describe('the swarm (real tracker, seeder and fetcher processes on loopback)', () => {
  it('1 tracker + 1 seeder + 8 fetchers: a 64 MiB bundle reaches every host, the origin uploads less than 2x its size', async () => {
    const fleet = await startFleet(await tempDir(), { hosts: 8 })
    fleets.push(fleet)
    const b = await fleet.publish('1.0.0', 64 * MiB)
    const s = await waitFor('8 hosts running', async () => {
      const st = await fleet.status()
      return st.byState.running === 8 && st
    }, 120_000)
    expect(s.percentRunning).toBe(100)
    for (const f of fleet.fetchers) expect(await sha256File(join(f.dataDir, 'cache', `${b.digest.slice(7)}.tar`))).toBe(b.digest)
    const uploaded = await fleet.seederMetric('shoal_seeder_uploaded_bytes_total')
    expect(uploaded).toBeGreaterThan(0)
    expect(uploaded).toBeLessThan(2 * b.size)
  }, 180_000)
})
