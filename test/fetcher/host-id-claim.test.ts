import { spawn } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { defaultHostId } from '../../src/cli/fetcher-command.js'
import { createHostInstances } from '../../src/tracker/host-instances.js'
import { hostToken, startFleet, waitFor, type Fleet } from '../helpers/fleet.js'
import { useTempDirs } from '../helpers/temp-dir.js'

const tempDir = useTempDirs()
const fleets: Fleet[] = []
afterEach(() => {
  for (const f of fleets.splice(0)) f.kill()
})
const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url))

describe('one host id, one live fetcher (issue 14: host identity)', () => {
  it('createHostInstances(): a second instance is refused while the first polls or within the grace after; then it takes over', () => {
    let t = 0
    const hosts = createHostInstances({ graceMs: 5_000, now: () => t })
    hosts.claim('h', 'a'.repeat(16))
    expect(() => hosts.claim('h', 'b'.repeat(16))).toThrow(expect.objectContaining({ code: 'HOST_ID_IN_USE' }))
    const end = hosts.poll('h', 'a'.repeat(16))
    t = 60_000 // a long-poll held for a minute: still live
    expect(() => hosts.poll('h', 'b'.repeat(16))).toThrow(expect.objectContaining({ code: 'HOST_ID_IN_USE' }))
    end()
    end() // ending twice counts once
    t += 4_999
    expect(() => hosts.claim('h', 'b'.repeat(16))).toThrow(expect.objectContaining({ code: 'HOST_ID_IN_USE' }))
    t += 2
    hosts.claim('h', 'b'.repeat(16))
    expect(() => hosts.claim('h', 'a'.repeat(16))).toThrow(expect.objectContaining({ code: 'HOST_ID_IN_USE' }))
    hosts.claim('other', 'a'.repeat(16)) // ids are independent
  })

  it('isLost(): only a host seen polling here, idle past the bound; newlyLost() says once when one crosses it', () => {
    let t = 0
    const hosts = createHostInstances({ now: () => t })
    expect(hosts.isLost('never-seen', 1_000)).toBe(false)
    const end = hosts.poll('h', 'a'.repeat(16))
    t = 10_000
    expect(hosts.isLost('h', 1_000)).toBe(false) // polling
    end()
    expect(hosts.newlyLost(1_000)).toBe(false)
    t += 1_001
    expect(hosts.isLost('h', 1_000)).toBe(true)
    expect(hosts.newlyLost(1_000)).toBe(true)
    t += 500
    expect(hosts.newlyLost(1_000)).toBe(false) // already said
    hosts.poll('h', 'a'.repeat(16))
    expect(hosts.isLost('h', 1_000)).toBe(false) // back
  })

  it('defaultHostId(): the hostname with the start of /etc/machine-id, or the hostname alone without one', async () => {
    const dir = await tempDir()
    await writeFile(join(dir, 'machine-id'), '3D1219C7C4C5404AAA1F6D2A48ADFDA4\n')
    expect(defaultHostId(join(dir, 'machine-id'))).toMatch(/^[a-z0-9._-]+-3d1219c7$/)
    expect(defaultHostId(join(dir, 'missing'))).not.toContain('3d1219c7')
    await writeFile(join(dir, 'bad'), 'not-a-machine-id')
    expect(defaultHostId(join(dir, 'bad'))).toBe(defaultHostId(join(dir, 'missing')))
  })

  it('a second fetcher with a live fetcher\'s host id refuses to start (HOST_ID_IN_USE) and the first is untouched; after a kill -9 a new one takes the id over', async () => {
    const fleet = await startFleet(await tempDir(), { hosts: 1 })
    fleets.push(fleet)
    await fleet.publish('1.0.0', 64 << 10)
    await waitFor('host0 running 1.0.0', async () => (await fleet.status()).byState.running === 1)

    const dataDir = join(fleet.dir, 'twin')
    await mkdir(dataDir)
    const twin = spawn(process.execPath, ['--import', 'tsx', MAIN, 'fetcher', '--data-dir', dataDir, '--tracker', fleet.tracker.url, '--token', hostToken('host0'), '--follow', 'app@prod', '--host-id', 'host0', '--peer-port', '0', '--listen-host', '127.0.0.1', '--agent', 'none'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      signal: AbortSignal.timeout(60_000),
    })
    fleet.children.push(twin)
    twin.on('error', () => {}) // the timeout signal firing after it exited
    let out = ''
    twin.stdout!.on('data', (c) => (out += c))
    twin.stderr!.on('data', (c) => (out += c))
    const code = await new Promise<number | null>((resolve) => twin.once('close', resolve))
    expect(code, out).not.toBe(0)
    expect(out).toContain('HOST_ID_IN_USE')
    expect(out).not.toContain('"listening"')

    // The first still acts as host0: it rolls out the next version.
    await fleet.publish('2.0.0', 64 << 10)
    await waitFor('host0 running 2.0.0', async () => {
      const s = (await fleet.status()) as { version?: string; byState: Record<string, number> }
      return s.version === '2.0.0' && s.byState.running === 1
    })

    // Killed with -9, its successor (same id, same data dir) starts: the dead one's poll is gone.
    fleet.fetchers[0]!.child.kill('SIGKILL')
    await fleet.startFetcher(0)
    await fleet.publish('3.0.0', 64 << 10)
    await waitFor('host0 running 3.0.0', async () => {
      const s = (await fleet.status()) as { version?: string; byState: Record<string, number> }
      return s.version === '3.0.0' && s.byState.running === 1
    })
  }, 120_000)
})
