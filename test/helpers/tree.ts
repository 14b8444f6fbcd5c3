import { chmod, mkdir, symlink, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'

export type TreeSpec = Record<string, string | Buffer | { dir: true } | { symlink: string } | { exec: string | Buffer }>

/**
 * Materialises a tree from a spec, in the order given (so tests can vary creation order).
 * Keys are '/'-separated relative paths; values are file contents or markers.
 */
export async function writeTree(root: string, spec: TreeSpec): Promise<void> {
  for (const [path, value] of Object.entries(spec)) {
    const abs = join(root, path)
    await mkdir(dirname(abs), { recursive: true })
    if (typeof value === 'string' || Buffer.isBuffer(value)) await writeFile(abs, value, { mode: 0o644 })
    else if ('dir' in value) await mkdir(abs, { recursive: true })
    else if ('symlink' in value) await symlink(value.symlink, abs)
    else {
      await writeFile(abs, value.exec)
      await chmod(abs, 0o755)
    }
  }
}

export const SAMPLE_TREE: TreeSpec = {
  'bin/app': { exec: '#!/bin/sh\necho hello\n' },
  'etc/config.json': '{"port":8080}\n',
  'lib/a.txt': 'alpha\n',
  'lib/b-c.txt': 'dash sorts before slash\n',
  'lib/b/inner.txt': 'inner\n',
  'lib/link-rel': { symlink: '../etc/config.json' },
  'lib/link-abs': { symlink: '/etc/hostname' },
  'var/empty': { dir: true },
  'data.bin': Buffer.alloc(300_000, 7),
}
