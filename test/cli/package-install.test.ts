import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { useTempDirs } from '../helpers/temp-dir.js'

const ROOT = join(import.meta.dirname, '../..')
const tempDir = useTempDirs()
const run = (cmd: string, args: string[], cwd: string, timeout = 240_000) => spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout, env: { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' } })

describe('packaging (issue 16)', () => {
  it('the npm pack tarball installed globally (production dependencies only, from the npm cache) runs shoal demo in an empty directory', async () => {
    const dir = await tempDir()
    // --ignore-scripts: pack the dist/ that npm ci built; rebuilding it here would race the tests that run it.
    const packed = run('npm', ['pack', '--ignore-scripts', '--pack-destination', dir, '--silent'], ROOT)
    expect(packed.status, packed.stderr).toBe(0)
    const tarball = readdirSync(dir).find((f) => f.endsWith('.tgz'))!
    expect(tarball).toMatch(/^shoal-.*\.tgz$/)
    const prefix = join(dir, 'prefix')
    const installed = run('npm', ['install', '--global', '--prefix', prefix, '--prefer-offline', '--omit=dev', join(dir, tarball)], dir)
    expect(installed.status, installed.stderr).toBe(0)
    const pkg = join(prefix, 'lib', 'node_modules', 'shoal')
    expect(existsSync(join(pkg, 'dist', 'cli', 'main.js'))).toBe(true)
    expect(existsSync(join(pkg, 'src'))).toBe(false) // the compiled CLI only
    for (const dev of ['vitest', 'typescript', 'webtorrent', 'tsx']) expect(existsSync(join(pkg, 'node_modules', dev)), dev).toBe(false)
    const empty = join(dir, 'empty')
    mkdirSync(empty)
    const demo = run(join(prefix, 'bin', 'shoal'), ['demo', '--exit', '--hosts', '2'], empty, 120_000)
    expect(demo.status, `${demo.stdout}\n${demo.stderr}`).toBe(0)
    // Each host launched the app from the installed package's own fixture.
    expect(demo.stdout).toMatch(/\[host-0\] hello from shoal/)
    expect(demo.stdout).toMatch(/\[host-1\] hello from shoal/)
  }, 400_000)
})
