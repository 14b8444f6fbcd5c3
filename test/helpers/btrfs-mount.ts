import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** Why btrfs cannot be tested here, or undefined when it can. */
export function btrfsUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'not root'
  if (spawnSync('mkfs.btrfs', ['--version']).status !== 0) return 'mkfs.btrfs missing (Debian btrfs-progs)'
  return undefined
}

/** Why overlay cannot be tested here, or undefined when it can. */
export function overlayUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'not root'
  return undefined
}

/**
 * A fresh loop-mounted btrfs file system (a sparse image file); `cleanup` unmounts it and
 * removes everything. Mounted with -o loop so mount(8) manages the loop device.
 */
export function mountLoopBtrfs(sizeMiB = 512): { dir: string; cleanup: () => void } {
  const base = mkdtempSync(join(tmpdir(), 'shoal-btrfs-'))
  const image = join(base, 'fs.img')
  const dir = join(base, 'mnt')
  execFileSync('truncate', ['-s', `${sizeMiB}M`, image])
  execFileSync('mkfs.btrfs', ['-q', image])
  execFileSync('mkdir', [dir])
  execFileSync('mount', ['-o', 'loop', image, dir])
  return {
    dir,
    cleanup: () => {
      spawnSync('umount', ['-l', dir])
      rmSync(base, { recursive: true, force: true })
    },
  }
}
