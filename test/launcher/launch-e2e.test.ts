import { spawn, spawnSync } from 'node:child_process'
import { copyFile, mkdir, readFile, readdir, readlink, writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { packBundleToFile } from '../../src/core/index.js'
import { runCli } from '../helpers/run-cli.js'
import { btrfsUnavailable, mountLoopBtrfs, overlayUnavailable } from '../helpers/btrfs-mount.js'
import { useTempDirs } from '../helpers/temp-dir.js'

const tempDir = useTempDirs()
const helloApp = fileURLToPath(new URL('../../fixtures/hello-app', import.meta.url))
const isRoot = process.getuid?.() === 0
const hasRunc = spawnSync('runc', ['--version']).status === 0
const busybox = ['/usr/bin/busybox', '/bin/busybox'].find((p) => spawnSync(p, ['true']).status === 0)
const ociWhy = !isRoot ? 'not root' : !hasRunc ? 'runc missing (Debian runc)' : !busybox ? 'busybox missing (Debian busybox-static)' : undefined

async function helloBundle(): Promise<{ path: string; digest: string }> {
  const path = join(await tempDir(), 'hello.tar')
  const { digest } = await packBundleToFile(helloApp, path)
  return { path, digest }
}

describe('shoal launch (end to end, real processes)', () => {
  it('shoal launch --agent process runs the hello-app with the host node from a dir snapshot', async () => {
    const b = await helloBundle()
    const root = await tempDir()
    const r = await runCli(['launch', b.path, '--root', root, '-r', 'hello', '--version', '1.0.0', '-q'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout.trim()).toBe(`hello from shoal (hello@1.0.0, ${b.digest})`)
  })

  it.skipIf(overlayUnavailable() !== undefined)(`shoal launch --snapshotter overlay --agent process runs the hello-app from an overlay mount${overlayUnavailable() ? ` (SKIPPED: ${overlayUnavailable()})` : ''}`, async () => {
    const b = await helloBundle()
    const root = await tempDir()
    const r = await runCli(['launch', b.path, '--root', root, '-r', 'hello', '--version', '1.0.1', '--snapshotter', 'overlay', '-q', '--json'])
    expect(r.code, r.stderr).toBe(0)
    const lines = r.stdout.trim().split('\n')
    expect(lines.at(-1)).toBe(`hello from shoal (hello@1.0.1, ${b.digest})`)
    const activation = JSON.parse(lines.slice(0, -1).join('\n')).activation
    expect(activation.rootfs).toMatch(/merged$/)
    // Leave no mount behind for the next test run.
    const gc = spawnSync('umount', [activation.rootfs])
    expect(gc.status).toBe(0)
  })

  const btrfsWhy = btrfsUnavailable()
  let btrfs: { dir: string; cleanup: () => void } | undefined
  afterAll(() => btrfs?.cleanup())
  it.skipIf(btrfsWhy !== undefined)(`shoal launch --snapshotter btrfs --agent exec hands a btrfs snapshot to the exec command${btrfsWhy ? ` (SKIPPED: ${btrfsWhy})` : ''}`, async () => {
    btrfs = mountLoopBtrfs()
    const b = await helloBundle()
    const r = await runCli([
      'launch', b.path, '--root', join(btrfs.dir, 'shoal'), '-r', 'hello', '--version', '2', '--snapshotter', 'btrfs', '--agent', 'exec', '-q',
      '--exec', 'echo "$SHOAL_RELEASE@$SHOAL_VERSION $SHOAL_DIGEST"; cat "$SHOAL_ROOTFS/message.txt"; btrfs subvolume show "$SHOAL_ROOTFS" >/dev/null && echo subvolume',
    ])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout.trim().split('\n')).toEqual([`hello@2 ${b.digest}`, 'hello from shoal', 'subvolume'])
  })

  it.skipIf(ociWhy !== undefined)(`shoal launch --agent oci runs a busybox-static bundle with runc${ociWhy ? ` (SKIPPED: ${ociWhy})` : ''}`, async () => {
    const src = await tempDir()
    await mkdir(join(src, 'bin'))
    await copyFile(busybox!, join(src, 'bin/busybox'))
    await writeFile(join(src, 'hello.txt'), 'inside the container\n')
    await writeFile(join(src, 'shoal.json'), JSON.stringify({ entrypoint: ['/bin/busybox', 'sh', '-c', 'echo "pid $$ in $SHOAL_RELEASE"; /bin/busybox cat /hello.txt'], restart: 'never' }))
    const path = join(await tempDir(), 'bb.tar')
    await packBundleToFile(src, path)
    const r = await runCli(['launch', path, '--root', await tempDir(), '-r', 'bb', '--version', '1', '--agent', 'oci', '-q'])
    expect(r.code, r.stderr).toBe(0)
    // pid 1: it really runs in its own pid namespace.
    expect(r.stdout.trim().split('\n')).toEqual(['pid 1 in bb', 'inside the container'])
  })

  it('shoal launch refuses an unsigned bundle when trusted keys are configured, and accepts a signed one', async () => {
    const b = await helloBundle()
    const dir = await tempDir()
    expect((await runCli(['keygen', '-o', join(dir, 'k')])).code).toBe(0)
    const unsigned = await runCli(['launch', b.path, '--root', join(dir, 'root'), '-r', 'hello', '--version', '1', '--trusted-keys', join(dir, 'k.pub'), '-q'])
    expect(unsigned.code).toBe(3)
    expect(unsigned.stderr).toContain('SIGNATURE_MISSING')
    expect((await runCli(['sign', b.path, '-k', join(dir, 'k'), '-r', 'hello', '--version', '1', '-o', join(dir, 'sig')])).code).toBe(0)
    const signed = await runCli(['launch', b.path, '--root', join(dir, 'root'), '-r', 'hello', '--version', '1', '--trusted-keys', join(dir, 'k.pub'), '--signature', join(dir, 'sig'), '-q'])
    expect(signed.code, signed.stderr).toBe(0)
    expect(signed.stdout).toContain('hello from shoal')
  })

  it('shoal rollback and gc act on the activations launch made', async () => {
    const root = await tempDir()
    const b = await helloBundle()
    for (const v of ['1', '2']) expect((await runCli(['launch', b.path, '--root', root, '-r', 'hello', '--version', v, '--install-only', '-q'])).code).toBe(0)
    const rb = await runCli(['rollback', 'hello', '--root', root, '--json'])
    expect(rb.code).toBe(0)
    expect(JSON.parse(rb.stdout).activation.version).toBe('1')
    const gc = await runCli(['gc', '--root', root, '--json'])
    expect(JSON.parse(gc.stdout)).toEqual({ ok: true, removed: [] })
    expect((await runCli(['rollback', 'nothing', '--root', root])).code).toBe(1)
  })

  it('shoal launch killed with SIGKILL at points through the install leaves the old release or the new one active, never half', async () => {
    // A bundle big enough that the install takes many progress events.
    const src = await tempDir()
    await mkdir(join(src, 'files'))
    for (let i = 0; i < 400; i++) await writeFile(join(src, 'files', `f${i}.bin`), Buffer.alloc(64 * 1024, i % 251))
    await writeFile(join(src, 'shoal.json'), JSON.stringify({ entrypoint: ['true'] }))
    const v2 = join(await tempDir(), 'v2.tar')
    await packBundleToFile(src, v2)
    const root = await tempDir()
    const v1 = await helloBundle()
    expect((await runCli(['launch', v1.path, '--root', root, '-r', 'app', '--version', '1', '--install-only', '-q'])).code).toBe(0)

    const main = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url))
    for (const killAfterLines of [1, 3, 8, 20]) {
      const child = spawn(process.execPath, ['--import', 'tsx', main, 'launch', v2, '--root', root, '-r', 'app', '--version', '2', '--install-only'], {
        env: { ...process.env, SHOAL_PROGRESS_INTERVAL_MS: '0' },
        stdio: ['ignore', 'ignore', 'pipe'],
      })
      let lines = 0
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
      child.stderr.on('data', (c: Buffer) => {
        lines += c.toString().split('\n').length - 1
        if (lines >= killAfterLines) child.kill('SIGKILL')
      })
      await exited
      const current = await readlink(join(root, 'releases/app/current'))
      const activation = JSON.parse(await readFile(join(root, 'releases/app', current), 'utf8'))
      expect(['1', '2']).toContain(activation.version)
      const files = await readdir(activation.rootfs)
      if (activation.version === '1') expect(files).toContain('message.txt')
      else expect((await readdir(join(activation.rootfs, 'files'))).length).toBe(400)
    }
    // Whatever the kills left, a new launch finishes and gc clears the cut-off installs.
    expect((await runCli(['launch', v2, '--root', root, '-r', 'app', '--version', '2', '--install-only', '-q'])).code).toBe(0)
    const gc = await runCli(['gc', '--root', root, '--json'])
    expect(gc.code).toBe(0)
    expect(await readdir(join(root, 'snapshots/active'))).toEqual([])
  })
})
