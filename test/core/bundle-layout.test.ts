import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { bundleLayout, packBundleToFile } from '../../src/core/index.js'
import { useTempDirs } from '../helpers/temp-dir.js'
import { SAMPLE_TREE, writeTree } from '../helpers/tree.js'

const tempDir = useTempDirs()

/** The bundle rebuilt from its layout alone, with file contents read from the tree it was packed from. */
async function rebuild(root: string, bundle: string): Promise<{ packed: Buffer; rebuilt: Buffer }> {
  const { manifest } = await packBundleToFile(root, bundle, { mtime: 1_700_000_000 })
  const layout = bundleLayout(manifest)
  const parts: Buffer[] = []
  let at = 0
  for (const s of layout.segments) {
    expect(s.offset).toBe(at)
    const data = s.kind === 'bytes' ? s.data : await readFile(join(root, s.path))
    parts.push(data)
    at += data.length
  }
  expect(at).toBe(layout.size)
  return { packed: await readFile(bundle), rebuilt: Buffer.concat(parts) }
}

describe('bundleLayout()', () => {
  it('bundleLayout() rebuilds the packed bytes exactly, pax headers for long names and link targets included', async () => {
    const dir = await tempDir()
    const { packed, rebuilt } = await rebuild('fixtures/golden-tree', join(dir, 'golden.tar'))
    expect(rebuilt.length).toBe(packed.length)
    expect(rebuilt.equals(packed)).toBe(true)
  })

  it('bundleLayout() agrees with pack on a tree with empty files, symlinks and a large file', async () => {
    const root = await tempDir()
    await writeTree(root, { ...SAMPLE_TREE, 'empty.txt': '', 'big/odd.bin': Buffer.alloc(1_000_001, 3) })
    const { packed, rebuilt } = await rebuild(root, join(await tempDir(), 'b.tar'))
    expect(rebuilt.equals(packed)).toBe(true)
  })
})
