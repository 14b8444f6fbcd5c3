import { readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { runCli } from '../helpers/run-cli.js'
import { useTempDirs } from '../helpers/temp-dir.js'
import { SAMPLE_TREE, writeTree } from '../helpers/tree.js'

const tempDir = useTempDirs()

describe('shoal CLI', () => {
  it('shoal --help lists every command, and each command has --help', async () => {
    const top = await runCli(['--help'])
    expect(top.code).toBe(0)
    for (const cmd of ['pack', 'inspect', 'verify', 'keygen', 'sign']) {
      expect(top.stdout).toContain(cmd)
      const sub = await runCli([cmd, '--help'])
      expect(sub.code, cmd).toBe(0)
      expect(sub.stdout).toContain(`Usage: shoal ${cmd}`)
    }
  })

  it('shoal pack, inspect and verify agree on the digest; SOURCE_DATE_EPOCH is honoured', async () => {
    const src = await tempDir()
    const out = await tempDir()
    await writeTree(src, SAMPLE_TREE)
    const packed = await runCli(['pack', src, '-o', join(out, 'b.tar'), '--json'])
    expect(packed.code, packed.stderr).toBe(0)
    const p = JSON.parse(packed.stdout)
    expect(p).toMatchObject({ ok: true, digest: expect.stringMatching(/^sha256:[0-9a-f]{64}$/), files: 6 })

    const inspected = JSON.parse((await runCli(['inspect', join(out, 'b.tar'), '--json'])).stdout)
    expect(inspected.digest).toBe(p.digest)
    expect(inspected.manifest.entries.length).toBe(inspected.files + inspected.dirs + inspected.symlinks)

    const verified = await runCli(['verify', join(out, 'b.tar'), '--json', '--digest', p.digest])
    expect(verified.code).toBe(0)
    expect(JSON.parse(verified.stdout)).toMatchObject({ ok: true, digest: p.digest, size: (await stat(join(out, 'b.tar'))).size })

    const epoch = await runCli(['pack', src, '-o', join(out, 'c.tar'), '--json'], { env: { SOURCE_DATE_EPOCH: '1700000000' } })
    expect(JSON.parse(epoch.stdout).digest).not.toBe(p.digest)
  })

  it('shoal verify exits 3 with the error code for a tampered bundle, and takes the digest from a <hex>.tar name', async () => {
    const src = await tempDir()
    const out = await tempDir()
    await writeTree(src, { 'a.txt': 'a'.repeat(2000) })
    const p = JSON.parse((await runCli(['pack', src, '-o', join(out, 'b.tar'), '--json'])).stdout)
    const bytes = await readFile(join(out, 'b.tar'))
    const named = join(out, `${p.digest.slice(7)}.tar`)
    await writeFile(named, bytes)
    expect((await runCli(['verify', named])).code).toBe(0)
    const tampered = Buffer.from(bytes)
    tampered[tampered.length - 1024 - 3] = 0x41 // inside a.txt's padding
    await writeFile(named, tampered)
    const bad = await runCli(['verify', named])
    expect(bad.code).toBe(3)
    expect(bad.stderr).toMatch(/^shoal: BUNDLE_NOT_CANONICAL: /m)
    const badJson = await runCli(['verify', named, '--json'])
    expect(JSON.parse(badJson.stdout)).toMatchObject({ ok: false, error: { code: 'BUNDLE_NOT_CANONICAL', statusCode: 422 } })
  })

  it('shoal keygen, sign and verify --signature: trusted passes, untrusted exits 3 with SIGNATURE_UNTRUSTED', async () => {
    const dir = await tempDir()
    const src = await tempDir()
    await writeTree(src, SAMPLE_TREE)
    expect((await runCli(['pack', src, '-o', join(dir, 'b.tar'), '-q'])).code).toBe(0)
    const kg = await runCli(['keygen', '-o', join(dir, 'ci.key'), '-c', 'ci@example', '--json'])
    expect(kg.code, kg.stderr).toBe(0)
    expect((await stat(join(dir, 'ci.key'))).mode & 0o777).toBe(0o600)
    expect((await runCli(['keygen', '-o', join(dir, 'other.key')])).code).toBe(0)
    const again = await runCli(['keygen', '-o', join(dir, 'ci.key')])
    expect(again.code).toBe(2)

    const signed = await runCli(['sign', join(dir, 'b.tar'), '-k', join(dir, 'ci.key'), '-r', 'web', '--version', '1.4.2', '-o', join(dir, 'b.sig')])
    expect(signed.code, signed.stderr).toBe(0)
    const ok = await runCli(['verify', join(dir, 'b.tar'), '--signature', join(dir, 'b.sig'), '--trusted-keys', join(dir, 'ci.key.pub')])
    expect(ok.code, ok.stderr).toBe(0)
    expect(ok.stdout).toContain('signed web@1.4.2 by')
    const untrusted = await runCli(['verify', join(dir, 'b.tar'), '--signature', join(dir, 'b.sig'), '--trusted-keys', join(dir, 'other.key.pub')])
    expect(untrusted.code).toBe(3)
    expect(untrusted.stderr).toContain('SIGNATURE_UNTRUSTED')
    const noSig = await runCli(['verify', join(dir, 'b.tar'), '--trusted-keys', join(dir, 'ci.key.pub')])
    expect(noSig.code).toBe(3)
    expect(noSig.stderr).toContain('SIGNATURE_MISSING')
  })

  it('shoal exits 2 on usage errors and 1 with FILE_NOT_FOUND for a missing bundle', async () => {
    expect((await runCli(['pack'])).code).toBe(2)
    expect((await runCli(['frobnicate'])).code).toBe(2)
    expect((await runCli(['verify', 'x.tar', '--digest', 'md5:abc'])).code).toBe(2)
    const missing = await runCli(['verify', '/nonexistent/b.tar'])
    expect(missing.code).toBe(1)
    expect(missing.stderr).toContain('FILE_NOT_FOUND')
  })

  it('shoal pack prints periodic progress lines when stderr is not a terminal', async () => {
    const src = await tempDir()
    const out = await tempDir()
    await writeTree(src, { 'big.bin': Buffer.alloc(8 << 20, 1) })
    // A 0 ms interval makes every update print, so the test does not depend on timing.
    const r = await runCli(['pack', src, '-o', join(out, 'b.tar')], { env: { SHOAL_PROGRESS_INTERVAL_MS: '0' } })
    expect(r.code).toBe(0)
    expect(r.stderr).toMatch(/^pack hashing: .* \(\d+%\), .*\/s, ETA /m)
    expect(r.stderr).toMatch(/^pack writing: 8\.0 MiB \/ 8\.0 MiB \(100%\)/m)
  })
})
