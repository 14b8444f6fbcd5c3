import { createReadStream } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import { join } from 'node:path'
import bencode from 'bencode'
import { afterEach, describe, expect, it } from 'vitest'
import { packBundleToFile, parseLaunchConfig, readBodyLimited, verifyBundleFile } from '../../src/core/index.js'
import { parseAnnounceResponse } from '../../src/swarm/index.js'
import { createLauncher } from '../../src/launcher/index.js'
import { inRootfs, resolveEntrypoint } from '../../src/launcher/process-agent.js'
import { useTempDirs } from '../helpers/temp-dir.js'
import { writeTree } from '../helpers/tree.js'

const tempDir = useTempDirs()
const closers: Array<() => unknown> = []
afterEach(() => {
  for (const c of closers.splice(0).reverse()) c()
})

describe('what a host reads from the network is bounded (issue 12, low)', () => {
  it('readBodyLimited() stops an endless body at its bound and refuses a declared length over it', async () => {
    let streamed = 0
    const server = createServer((req, res) => {
      if (req.url === '/declared') {
        res.writeHead(200, { 'content-length': String(335 << 20) })
        return void res.end()
      }
      res.writeHead(200)
      const chunk = Buffer.alloc(64 << 10, 1)
      const pump = (): void => {
        while (!res.destroyed && res.write(chunk)) streamed += chunk.length
        if (!res.destroyed) res.once('drain', pump)
      }
      pump()
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
    closers.push(() => server.close())
    closers.push(() => server.closeAllConnections())
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`
    await expect(readBodyLimited(await fetch(`${url}/endless`), 1 << 20, 'a piece')).rejects.toMatchObject({ code: 'RESPONSE_INVALID' })
    await expect(readBodyLimited(await fetch(`${url}/declared`), 1 << 20, 'a torrent')).rejects.toMatchObject({ code: 'RESPONSE_INVALID' })
    expect(streamed).toBeLessThan(64 << 20) // the server was cut off, not read to the end
  })

  it.each([
    ['0', 0, 5],
    ['negative', -10, 5],
    ['1e300', 1e300, 3600],
    ['one day', 86_400, 3600],
    ['sane', 120, 120],
  ])('parseAnnounceResponse() clamps a %s interval to %i s', (_name, interval, expected) => {
    const body = bencode.encode({ interval, peers: Buffer.alloc(0) })
    expect(parseAnnounceResponse(body).intervalSeconds).toBe(expected)
  })

  it('parseAnnounceResponse() keeps at most 200 peers and 8 origins of a huge answer', () => {
    const body = bencode.encode({ interval: 60, peers: Buffer.alloc(6 * 5000, 1), origins: Buffer.alloc(6 * 50, 2) })
    const r = parseAnnounceResponse(body)
    expect(r.peers).toHaveLength(200)
    expect(r.origins).toHaveLength(8)
  })
})

describe('launch configs and bundles from the network (issue 12, low)', () => {
  it.each([
    [{ entrypoint: ['../../../bin/sh'] }, '/entrypoint/0'],
    [{ entrypoint: ['/../../etc/evil'] }, '/entrypoint/0'],
    [{ entrypoint: ['bin/app'], workingDir: '/../..' }, '/workingDir'],
    [{ entrypoint: ['bin/app'], healthCheck: { command: ['../x'] } }, '/healthCheck/command/0'],
    [{ entrypoint: ['bin/app'], env: { 'NOT VALID': 'x' } }, '/env'],
  ])('parseLaunchConfig() refuses %j at %s', (config, where) => {
    expect(() => parseLaunchConfig(config)).toThrow(where)
  })

  it('the process agent confines paths to the rootfs whatever the manifest says; bare names still go through PATH', () => {
    expect(() => inRootfs('/srv/rootfs', '/../../etc/passwd')).toThrow(/outside the rootfs/)
    expect(() => resolveEntrypoint('/srv/rootfs', 'bin/../../../x')).toThrow(/outside the rootfs/)
    expect(inRootfs('/srv/rootfs', '/')).toBe('/srv/rootfs')
    expect(resolveEntrypoint('/srv/rootfs', '/bin/app')).toBe('/srv/rootfs/bin/app')
    expect(resolveEntrypoint('/srv/rootfs', 'node')).toBe('node')
  })

  it('a bundle cut off inside a file is BUNDLE_TRUNCATED for launch as for verify (was IO_FAILED)', async () => {
    const src = await tempDir()
    await writeTree(src, { 'data.bin': Buffer.alloc(3 << 20, 7), 'shoal.json': JSON.stringify({ entrypoint: ['/bin/true'] }) })
    const dir = await tempDir()
    const full = join(dir, 'b.tar')
    await packBundleToFile(src, full)
    const { readFile } = await import('node:fs/promises')
    const cut = join(dir, 'cut.tar')
    await writeFile(cut, (await readFile(full)).subarray(0, 2 << 20))
    await expect(verifyBundleFile(cut)).rejects.toMatchObject({ code: 'BUNDLE_TRUNCATED' })
    const launcher = createLauncher({ root: await tempDir() })
    await expect(launcher.install(() => createReadStream(cut))).rejects.toMatchObject({ code: 'BUNDLE_TRUNCATED' })
  })
})
