import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { TOKENS, startFleet, waitFor, type Fleet } from '../helpers/fleet.js'
import { freePort } from '../helpers/free-port.js'
import { runCli } from '../helpers/run-cli.js'
import { useTempDirs } from '../helpers/temp-dir.js'
import { metricValue } from '../helpers/metrics.js'

const tempDir = useTempDirs()
const fleets: Fleet[] = []
const pids: number[] = []
afterEach(() => {
  for (const f of fleets.splice(0)) f.kill()
  for (const p of pids.splice(0)) {
    try {
      process.kill(p, 'SIGKILL')
    } catch {
      // gone already
    }
  }
})

/** A release that serves its version over HTTP on `port` and writes its pid where the test reads it. */
async function serverTree(dir: string, version: string, port: number, pidFile: string): Promise<string> {
  const tree = join(dir, `app-${version}`)
  await mkdir(tree, { recursive: true })
  await writeFile(join(tree, 'server.js'), `require('node:fs').writeFileSync(${JSON.stringify(pidFile)}, String(process.pid))\nrequire('node:http').createServer((q, s) => s.end(${JSON.stringify(version)})).listen(${port}, '127.0.0.1')\n`)
  await writeFile(join(tree, 'shoal.json'), JSON.stringify({ entrypoint: ['node', 'server.js'], restart: 'on-failure' }))
  return tree
}

describe('a host that reboots (issue 14)', () => {
  it('fetcher and app killed with -9: a new fetcher on the same data dir serves the current version again from what it holds, downloading nothing, and reports running', async () => {
    const fleet = await startFleet(await tempDir(), { hosts: 0 })
    fleets.push(fleet)
    await fleet.startFetcher(0, ['--agent', 'process', '--metrics-port', '0'])
    const port = await freePort()
    const pidFile = join(fleet.dir, 'app.pid')
    const tree = await serverTree(fleet.dir, '1.0.0', port, pidFile)
    const pub = await runCli(['publish', tree, '-r', 'app', '--version', '1.0.0', '-c', 'prod', '--seeder', fleet.seeder.url, '--tracker', fleet.tracker.url, '--token', TOKENS.publisher, '-q'])
    expect(pub.code, pub.stderr).toBe(0)
    const serving = async (): Promise<string | undefined> => (await fetch(`http://127.0.0.1:${port}/`).catch(() => undefined))?.text()
    await waitFor('the app serving 1.0.0', async () => (await serving()) === '1.0.0')
    await waitFor('host0 running', async () => (await fleet.status()).byState.running === 1)

    const digest = (await fleet.get('/v1/channels/app/prod')).digest as string
    const reportAt = async (): Promise<{ state: string; at: string }> => fleet.get(`/v1/hosts/host0/reports/${digest}`)
    const before = await reportAt()

    // The "reboot": the fetcher and its app die at once; nothing is stopped cleanly.
    const appPid = Number(await readFile(pidFile, 'utf8'))
    pids.push(appPid)
    fleet.fetchers[0]!.child.kill('SIGKILL')
    process.kill(appPid, 'SIGKILL')
    await waitFor('the app gone', async () => (await serving()) === undefined, 10_000)

    await fleet.startFetcher(0, ['--agent', 'process', '--metrics-port', '0'])
    await waitFor('the app serving 1.0.0 again', async () => (await serving()) === '1.0.0', 60_000)
    pids.push(Number(await readFile(pidFile, 'utf8')))
    const metrics = await (await fetch(fleet.fetchers[0]!.info.metrics as string)).text()
    expect(metricValue(metrics, 'shoal_fetcher_downloaded_bytes_total')).toBe(0)
    // It says so: a new report (after the reboot), running.
    await waitFor('host0 reporting running again', async () => {
      const r = await reportAt()
      return r.state === 'running' && r.at > before.at
    }, 30_000)
  }, 120_000)
})
