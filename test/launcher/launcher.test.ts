import { createReadStream } from 'node:fs'
import { readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { packBundleToFile, type Digest } from '../../src/core/index.js'
import { createLauncher } from '../../src/launcher/index.js'
import { superviseChild } from '../../src/launcher/supervise-child.js'
import { useTempDirs } from '../helpers/temp-dir.js'
import { writeTree } from '../helpers/tree.js'

const tempDir = useTempDirs()

async function makeBundle(body: string): Promise<{ path: string; digest: Digest }> {
  const src = await tempDir()
  await writeTree(src, { 'version.txt': body, 'shoal.json': JSON.stringify({ entrypoint: ['node', '-e', 'console.log(1)'] }) })
  const path = join(await tempDir(), 'b.tar')
  const { digest } = await packBundleToFile(src, path)
  return { path, digest }
}

describe('createLauncher()', () => {
  it('activate() swaps current and keeps previous; rollback() swaps them back; gc() keeps only what they need', async () => {
    const root = await tempDir()
    const launcher = createLauncher({ root })
    const v1 = await makeBundle('one')
    const v2 = await makeBundle('two')
    const v3 = await makeBundle('three')
    for (const b of [v1, v2, v3]) await launcher.install(() => createReadStream(b.path), { expectedDigest: b.digest })

    const a1 = await launcher.activate({ release: 'web', version: '1', digest: v1.digest })
    expect(await readFile(join(a1.rootfs, 'version.txt'), 'utf8')).toBe('one')
    expect(a1.launch).toEqual({ entrypoint: ['node', '-e', 'console.log(1)'] })
    const a2 = await launcher.activate({ release: 'web', version: '2', digest: v2.digest })
    expect((await launcher.current('web'))?.version).toBe('2')
    expect((await launcher.previous('web'))?.version).toBe('1')
    // The checkout is writable and its own: writing it changes neither the image nor v1's view.
    await writeFile(join(a2.rootfs, 'version.txt'), 'scribbled')
    expect(await readFile(join(a1.rootfs, 'version.txt'), 'utf8')).toBe('one')

    const back = await launcher.rollback('web')
    expect(back.version).toBe('1')
    expect((await launcher.previous('web'))?.version).toBe('2')

    const { removed } = await launcher.gc()
    expect(removed).toEqual([`image ${v3.digest.slice(7)}`])
    const { images, checkouts } = await launcher.snapshotter.list()
    expect(images.sort()).toEqual([v1.digest.slice(7), v2.digest.slice(7)].sort())
    expect(checkouts.sort()).toEqual([a1.id, a2.id].sort())
  })

  it('install() is a no-op for an installed digest and leaves no image or active snapshot for a tampered bundle', async () => {
    const root = await tempDir()
    const launcher = createLauncher({ root })
    const v1 = await makeBundle('one')
    const first = await launcher.install(() => createReadStream(v1.path), { expectedDigest: v1.digest })
    const again = await launcher.install(() => createReadStream(v1.path), { expectedDigest: v1.digest })
    expect(again).toEqual({ ...first, verified: false })
    const bytes = await readFile(v1.path)
    bytes[bytes.indexOf('one') + 1] = 0x21
    const bad = join(await tempDir(), 'bad.tar')
    await writeFile(bad, bytes)
    await expect(launcher.install(() => createReadStream(bad))).rejects.toMatchObject({ code: 'ENTRY_DIGEST_MISMATCH' })
    expect(await launcher.snapshotter.list()).toEqual({ images: [v1.digest.slice(7)], checkouts: [], active: [] })
  })

  it('activate() of an image not installed and rollback() with no previous fail with RELEASE_NOT_ACTIVE', async () => {
    const launcher = createLauncher({ root: await tempDir() })
    await expect(launcher.activate({ release: 'web', version: '1', digest: `sha256:${'a'.repeat(64)}` })).rejects.toMatchObject({ code: 'RELEASE_NOT_ACTIVE' })
    await expect(launcher.rollback('web')).rejects.toMatchObject({ code: 'RELEASE_NOT_ACTIVE' })
    await expect(launcher.current('../etc')).rejects.toMatchObject({ code: 'NAME_INVALID' })
  })

  it('gc() removes installs that a crash cut off', async () => {
    const root = await tempDir()
    const launcher = createLauncher({ root })
    await launcher.snapshotter.prepare('install-deadbeef')
    expect((await launcher.gc()).removed).toEqual(['unfinished install install-deadbeef'])
    expect(await readdir(join(root, 'snapshots', 'active'))).toEqual([])
  })
})

describe('superviseChild()', () => {
  it('superviseChild() restarts a failing child with backoff and gives up with LAUNCH_FAILED', async () => {
    const dir = await tempDir()
    const counter = join(dir, 'runs')
    const run = superviseChild({
      command: 'sh',
      args: ['-c', `echo x >> ${counter}; exit 3`],
      options: {},
      restart: 'on-failure',
      maxRestarts: 2,
      backoffMs: 1,
      label: 'failing',
    })
    await expect(run.done).rejects.toMatchObject({ code: 'LAUNCH_FAILED', details: { exitCode: 3, restarts: 2 } })
    expect((await readFile(counter, 'utf8')).trim().split('\n')).toHaveLength(3)
  })

  it('superviseChild() stop() ends a long-running child and resolves done', async () => {
    const run = superviseChild({ command: 'sleep', args: ['600'], options: {}, restart: 'always', label: 'sleeper' })
    await run.stop()
    await expect(run.done).resolves.toMatchObject({ exitCode: expect.any(Number) })
  })
})

describe('process agent health check', () => {
  it('createProcessAgent() kills and restarts a release whose health check fails, then gives up with LAUNCH_FAILED', async () => {
    const { createProcessAgent } = await import('../../src/launcher/index.js')
    const rootfs = await tempDir()
    const agent = createProcessAgent({ maxRestarts: 1, backoffMs: 1, env: process.env })
    const running = await agent.start({
      id: 't1',
      rootfs,
      release: 'web',
      version: '1',
      digest: `sha256:${'a'.repeat(64)}`,
      stateDir: rootfs,
      launch: { entrypoint: ['sleep', '600'], restart: 'on-failure', healthCheck: { command: ['false'], intervalSeconds: 0.02, timeoutSeconds: 1, retries: 2 } },
    })
    await expect(running.done).rejects.toMatchObject({ code: 'LAUNCH_FAILED', details: { unhealthy: true, restarts: 1 } })
  })

  it('createProcessAgent() leaves a healthy release running until stop()', async () => {
    const { createProcessAgent } = await import('../../src/launcher/index.js')
    const rootfs = await tempDir()
    let checks = 0
    const agent = createProcessAgent({ env: process.env })
    const running = await agent.start({
      id: 't2',
      rootfs,
      release: 'web',
      version: '1',
      digest: `sha256:${'a'.repeat(64)}`,
      stateDir: rootfs,
      launch: { entrypoint: ['sleep', '600'], healthCheck: { command: ['sh', '-c', `echo x >> ${join(rootfs, 'checks')}`], intervalSeconds: 0.02, retries: 1 } },
    })
    // Wait (bounded by the test timeout) until several checks have passed, then stop.
    while (checks < 3) {
      await new Promise((r) => setTimeout(r, 20))
      checks = (await readFile(join(rootfs, 'checks'), 'utf8').catch(() => '')).split('\n').length - 1
    }
    await running.stop()
    await expect(running.done).resolves.toMatchObject({ exitCode: expect.any(Number) })
  })

  it('health: ready at the first passed check; UNHEALTHY when none passes within retries intervals; later a run of failures, then a pass, are each told once', async () => {
    const { createProcessAgent } = await import('../../src/launcher/index.js')
    const rootfs = await tempDir()
    const flag = join(rootfs, 'healthy')
    const agent = createProcessAgent({ env: process.env, backoffMs: 1 })
    const ctx = { id: 't3', rootfs, release: 'web', version: '1', digest: `sha256:${'a'.repeat(64)}` as const, stateDir: rootfs }
    const never = await agent.start({ ...ctx, launch: { entrypoint: ['sleep', '600'], restart: 'never', healthCheck: { command: ['false'], intervalSeconds: 0.1, retries: 2 } } })
    const t0 = performance.now()
    await expect(never.health!.ready).rejects.toMatchObject({ code: 'UNHEALTHY' })
    expect(performance.now() - t0).toBeGreaterThanOrEqual(200) // retries x interval, not the first failed probe
    await never.stop()

    await writeFile(flag, '')
    const flaky = await agent.start({ ...ctx, launch: { entrypoint: ['sleep', '600'], healthCheck: { command: ['test', '-e', flag], intervalSeconds: 0.05, retries: 2 } } })
    await flaky.health!.ready
    const told: string[] = []
    const changed = new Promise<void>((resolve) => flaky.health!.onChange((ok, reason) => {
      told.push(ok ? 'healthy' : `unhealthy: ${reason}`)
      if (told.length === 2) resolve()
      else if (!ok) void writeFile(flag, '') // it recovers (the restarted child passes again)
    }))
    await rm(flag)
    await changed
    expect(told[0]).toMatch(/^unhealthy: 2 health checks failed in a row/)
    expect(told[1]).toBe('healthy')
    await flaky.stop()
  })
})

