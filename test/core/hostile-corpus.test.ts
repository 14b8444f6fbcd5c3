import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { verifyBundleFile } from '../../src/core/index.js'
import { HOSTILE_CASES } from '../../scripts/make-hostile-corpus.js'

const dir = new URL('../../fixtures/hostile/', import.meta.url)
const index: Record<string, { code: string; description: string }> = JSON.parse(readFileSync(new URL('index.json', dir), 'utf8'))

describe('hostile tar corpus (fixtures/hostile)', () => {
  it('fixtures/hostile matches what scripts/make-hostile-corpus.ts generates', async () => {
    expect(Object.keys(index).sort()).toEqual(HOSTILE_CASES.map((c) => c.name).sort())
    for (const c of HOSTILE_CASES) {
      expect((await c.build()).equals(readFileSync(new URL(`${c.name}.tar`, dir))), c.name).toBe(true)
    }
  })

  it('every hostile bundle has its own error code', () => {
    const codes = Object.values(index).map((c) => c.code)
    const attackCodes = ['UNSAFE_PATH_TRAVERSAL', 'UNSAFE_ABSOLUTE_PATH', 'UNSAFE_SYMLINK_PARENT', 'UNSAFE_HARDLINK', 'UNSAFE_SPECIAL_FILE', 'UNSAFE_SETUID', 'DUPLICATE_ENTRY', 'BUNDLE_LIMIT_EXCEEDED', 'ENTRY_DIGEST_MISMATCH']
    for (const code of attackCodes) expect(codes).toContain(code)
  })

  for (const [name, { code, description }] of Object.entries(index)) {
    it(`verifyBundleFile() refuses ${name} (${description}) with ${code}`, async () => {
      await expect(verifyBundleFile(new URL(`${name}.tar`, dir).pathname)).rejects.toMatchObject({ code })
    })
  }
})
