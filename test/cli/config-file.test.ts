import type { ChildProcess } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { callApi, hostToken, TOKENS, TOKENS_FILE, waitFor } from '../helpers/fleet.js'
import { runCli } from '../helpers/run-cli.js'
import { startDaemon } from '../helpers/start-tracker.js'
import { useTempDirs } from '../helpers/temp-dir.js'

const tempDir = useTempDirs()
const children: ChildProcess[] = []
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL')
})

/** Starts a daemon with these SHOAL_* variables set for it only. */
async function daemon(command: string, args: string[], env: Record<string, string> = {}) {
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]))
  Object.assign(process.env, env)
  try {
    const d = await startDaemon(command, args)
    children.push(d.child)
    return d
  } finally {
    for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k]
    else process.env[k] = v
  }
}

/** How many hosts the tracker at `url` takes before LIMIT_REACHED. */
async function hostsTaken(url: string, upTo: number): Promise<number> {
  for (let i = 0; i < upTo; i++) {
    const r = await callApi(url, 'PUT', `/v1/hosts/cfg${i}`, hostToken(`cfg${i}`), { follows: [] })
    if (r.status === 429) return i
    expect(r.status).toBe(200)
  }
  return upTo
}

describe('daemon settings from a config file, SHOAL_* variables and flags (issue 16)', () => {
  it('tracker: the file sets what no flag or variable does; a variable wins over the file, a flag over both', async () => {
    const dir = await tempDir()
    await writeFile(join(dir, 'tokens'), TOKENS_FILE)
    const file = join(dir, 'tracker.yaml')
    await writeFile(file, `# what an operator writes\ntokens: ${join(dir, 'tokens')}\nmax-hosts: 1\nquiet: true\n`)
    const fromFile = await daemon('tracker', ['--config', file, '--data-dir', join(dir, 'a')])
    expect(await hostsTaken(fromFile.url, 5)).toBe(1)
    const fromEnv = await daemon('tracker', ['--data-dir', join(dir, 'b')], { SHOAL_CONFIG: file, SHOAL_MAX_HOSTS: '2' })
    expect(await hostsTaken(fromEnv.url, 5)).toBe(2)
    const fromFlag = await daemon('tracker', ['--config', file, '--data-dir', join(dir, 'c'), '--max-hosts', '3'], { SHOAL_MAX_HOSTS: '2' })
    expect(await hostsTaken(fromFlag.url, 5)).toBe(3)
  })

  it('seeder and fetcher from files: the seeder registers under the name in its file, the fetcher follows and labels as its file says', async () => {
    const dir = await tempDir()
    await writeFile(join(dir, 'tokens'), TOKENS_FILE)
    await writeFile(join(dir, 'seeder-token'), TOKENS.seeder)
    await writeFile(join(dir, 'host-token'), hostToken('cfg-host'))
    const tracker = await daemon('tracker', ['--data-dir', join(dir, 't'), '--tokens', join(dir, 'tokens')])
    await writeFile(join(dir, 'seeder.yaml'), `data-dir: ${join(dir, 's')}\ntokens: ${join(dir, 'tokens')}\ntracker: ${tracker.url}\ntracker-token-file: ${join(dir, 'seeder-token')}\nname: origin-from-file\npeer-port: 0\nno-mirror: true\n`)
    const seeder = await daemon('seeder', ['--config', join(dir, 'seeder.yaml')])
    await mkdir(join(dir, 'tree'))
    await writeFile(join(dir, 'tree', 'f'), 'hello')
    const published = await runCli(['publish', join(dir, 'tree'), '-r', 'app', '--version', '1', '-c', 'prod', '--seeder', seeder.url, '--tracker', tracker.url, '--token', TOKENS.publisher, '--json', '-q'])
    expect(published.code, published.stderr).toBe(0)
    const bundle = (await (await callApi(tracker.url, 'GET', `/v1/bundles/${(JSON.parse(published.stdout) as { digest: string }).digest}`, TOKENS.viewer)).json()) as { seeders: string[] }
    expect(bundle.seeders).toEqual(['origin-from-file'])

    await writeFile(join(dir, 'fetcher.yaml'), `data-dir: ${join(dir, 'h')}\ntracker: ${tracker.url}\ntoken-file: ${join(dir, 'host-token')}\nhost-id: cfg-host\nfollow: [app@prod]\nlabel:\n  - rack=r7\n  - region=eu\npeer-port: 0\nlisten-host: 127.0.0.1\nagent: none\n`)
    await daemon('fetcher', ['--config', join(dir, 'fetcher.yaml')])
    const host = await waitFor('the host running app@prod', async () => {
      const h = (await (await callApi(tracker.url, 'GET', '/v1/hosts', TOKENS.viewer)).json()) as { hosts: { id: string; labels: Record<string, string>; targets: { state: string | null }[] }[] }
      return h.hosts.find((x) => x.id === 'cfg-host' && x.targets[0]?.state === 'running')
    }, 60_000)
    expect(host.labels).toEqual({ rack: 'r7', region: 'eu' })
  })

  it('a bad file is refused with the key and the reason, and nothing starts', async () => {
    const dir = await tempDir()
    const cases: Array<[string, RegExp]> = [
      ['tokns: x\n', /unknown key "tokns" \(shoal tracker takes: .*tokens/],
      ['port: [1, 2]\n', /key "port" needs a string or a number \(found a list\)/],
      ['quiet: yes please\n', /key "quiet" is a switch: write true or false/],
      ['- a\n- b\n', /must be a mapping of settings/],
      ['port: : :\n', /not YAML/],
    ]
    for (const [text, reason] of cases) {
      await writeFile(join(dir, 'bad.yaml'), text)
      const r = await runCli(['tracker', '--config', join(dir, 'bad.yaml'), '--data-dir', join(dir, 'd'), '--tokens', join(dir, 'none')])
      expect(r.code, text).toBe(2)
      expect(r.stderr, text).toMatch(reason)
    }
    const missing = await runCli(['tracker', '--config', join(dir, 'nope.yaml')])
    expect(missing.stderr).toMatch(/Cannot read config .*nope\.yaml/)
  })
})
