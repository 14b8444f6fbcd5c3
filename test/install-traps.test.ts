import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'

// The install traps of this machine (README, "Install notes"): each check runs in a fresh
// Node process, outside vitest's module transforms, exactly as the daemons will load them.
function runNode(source: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', source], { encoding: 'utf8', timeout: 30_000 })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}

describe('install traps', () => {
  it('webtorrent and bittorrent-tracker import, and a client and tracker server start and stop', () => {
    const r = runNode(`
      import WebTorrent from 'webtorrent'
      import { Server } from 'bittorrent-tracker'
      const client = new WebTorrent({ dht: false, lsd: false, utp: false, webSeeds: true })
      const server = new Server({ udp: false, ws: false, http: true, stats: false })
      await new Promise((resolve, reject) => { server.once('error', reject); server.listen(0, '127.0.0.1', resolve) })
      const port = server.http.address().port
      await new Promise((resolve) => server.close(resolve))
      await new Promise((resolve) => client.destroy(resolve))
      console.log('ok ' + (port > 0))
    `)
    expect(r.stderr).toBe('')
    expect(r.stdout.trim()).toBe('ok true')
  })

  it('webrtc-polyfill resolves to the local stub and ip-set to 2.2.0', () => {
    const r = runNode(`
      import { createRequire } from 'node:module'
      const require = createRequire(import.meta.url)
      const stub = await import('webrtc-polyfill')
      const ipSet = require('ip-set/package.json')
      console.log(JSON.stringify({ rtc: stub.RTCPeerConnection === undefined, ipSet: ipSet.version }))
    `)
    expect(JSON.parse(r.stdout)).toEqual({ rtc: true, ipSet: '2.2.0' })
  })

  it('package.json pins webtorrent 3.x exactly, so npm cannot fall back to 2.8 on Node 20', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))
    expect(pkg.devDependencies.webtorrent).toMatch(/^3\.\d+\.\d+$/)
    const lock = JSON.parse(readFileSync(new URL('../package-lock.json', import.meta.url), 'utf8'))
    expect(lock.packages['node_modules/webtorrent'].version).toBe(pkg.devDependencies.webtorrent)
  })
})
