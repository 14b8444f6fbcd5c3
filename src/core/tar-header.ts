import type { Header as Headers } from 'tar-stream'
import { MANIFEST_PATH } from './bundle-path.js'
import type { ManifestEntry } from './manifest.js'

/**
 * The one place that decides what a bundle's tar headers look like. Pack writes them and
 * verify re-derives them; both must agree byte for byte, which the golden-digest test pins.
 *
 * POSIX ustar headers, pax extended headers for names or link targets that do not fit
 * (tar-stream picks that), uid/gid 0 with empty user and group names, one fixed mtime.
 */
export function tarHeaderFor(entry: ManifestEntry, mtimeSeconds: number): Headers {
  const base = canonical(entry.path, entry.mode, mtimeSeconds)
  switch (entry.type) {
    case 'file':
      return { ...base, type: 'file', size: entry.size }
    case 'dir':
      return { ...base, type: 'directory', size: 0 }
    case 'symlink':
      return { ...base, type: 'symlink', size: 0, linkname: entry.target }
  }
}

/** The header of the first entry, `.shoal/manifest.json`. */
export function manifestTarHeader(size: number, mtimeSeconds: number): Headers {
  return { ...canonical(MANIFEST_PATH, 0o644, mtimeSeconds), type: 'file', size }
}

/** What every header of a bundle shares: owner 0:0 without names, one mtime, no link or device. */
function canonical(name: string, mode: number, mtimeSeconds: number): Omit<Headers, 'type' | 'size'> {
  return { name, mode, uid: 0, gid: 0, uname: '', gname: '', mtime: new Date(mtimeSeconds * 1000), linkname: '', devmajor: 0, devminor: 0 }
}
