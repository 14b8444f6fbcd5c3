// Writes fixtures/hostile/*.tar and fixtures/hostile/index.json: bundles that try the classic
// tar attacks, each with the error code verify (and so the launcher) must refuse it with.
// `npx tsx scripts/make-hostile-corpus.ts`; the files are committed so any tool can use them.
import { createHash } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import type { Writable } from 'node:stream'
import tar from 'tar-stream'
import { encodeManifest, type ManifestEntry } from '../src/core/index.js'

export interface CraftEntry {
  name: string
  type?: tar.Header['type']
  body?: string
  mode?: number
  linkname?: string
  uid?: number
}

export async function craftTar(manifestBody: Buffer | null, entries: CraftEntry[]): Promise<Buffer> {
  const pack = tar.pack()
  const chunks: Buffer[] = []
  pack.on('data', (c) => void chunks.push(c as Buffer))
  const ended = new Promise<void>((r) => pack.on('end', () => r()))
  const base = { uid: 0, gid: 0, uname: '', gname: '', mtime: new Date(0) }
  if (manifestBody) pack.entry({ ...base, name: '.shoal/manifest.json', mode: 0o644, type: 'file' }, manifestBody)
  for (const e of entries) {
    const type = e.type ?? 'file'
    const mode = e.mode ?? (type === 'directory' ? 0o755 : type === 'symlink' ? 0o777 : 0o644)
    const header = { ...base, name: e.name, type, mode, linkname: e.linkname, uid: e.uid ?? 0 }
    if (type === 'file') pack.entry(header, Buffer.from(e.body ?? ''))
    else (pack.entry(header) as unknown as Writable).end()
  }
  pack.finalize()
  await ended
  return Buffer.concat(chunks)
}

const sha = (s: string): string => createHash('sha256').update(s).digest('hex')
export const file = (path: string, body: string, mode: 0o644 | 0o755 = 0o644): ManifestEntry => ({ path, type: 'file', mode, size: Buffer.byteLength(body), sha256: sha(body) })
export const dir = (path: string): ManifestEntry => ({ path, type: 'dir', mode: 0o755 })
export const link = (path: string, target: string): ManifestEntry => ({ path, type: 'symlink', mode: 0o777, target })
export const manifestOf = (entries: ManifestEntry[]): Buffer => encodeManifest({ schema: 1, mtime: 0, entries })
const rawManifest = (entries: unknown[]): Buffer => Buffer.from(JSON.stringify({ schema: 1, mtime: 0, entries }) + '\n')

export interface HostileCase {
  name: string
  description: string
  code: string
  build: () => Promise<Buffer>
}

export const HOSTILE_CASES: HostileCase[] = [
  {
    name: 'zip-slip',
    description: 'a tar entry ../../etc/cron.d/evil, not in the manifest',
    code: 'UNSAFE_PATH_TRAVERSAL',
    build: () => craftTar(manifestOf([file('a.txt', 'A')]), [{ name: 'a.txt', body: 'A' }, { name: '../../etc/cron.d/evil', body: '* * * * * root sh' }]),
  },
  {
    name: 'zip-slip-in-manifest',
    description: 'the manifest itself lists ../evil',
    code: 'UNSAFE_PATH_TRAVERSAL',
    build: () => craftTar(rawManifest([file('../evil', 'x')]), [{ name: '../evil', body: 'x' }]),
  },
  {
    name: 'absolute-path',
    description: 'a tar entry /etc/passwd',
    code: 'UNSAFE_ABSOLUTE_PATH',
    build: () => craftTar(manifestOf([file('a.txt', 'A')]), [{ name: 'a.txt', body: 'A' }, { name: '/etc/passwd', body: 'root::0:0::/:/bin/sh' }]),
  },
  {
    name: 'symlink-write-through',
    description: 'symlink etc -> /etc, then a file etc/passwd written through it (both in the manifest)',
    code: 'UNSAFE_SYMLINK_PARENT',
    build: () => craftTar(rawManifest([link('etc', '/etc'), file('etc/passwd', 'x')]), [{ name: 'etc', type: 'symlink', linkname: '/etc' }, { name: 'etc/passwd', body: 'x' }]),
  },
  {
    name: 'symlink-write-through-unlisted',
    description: 'symlink etc -> /etc listed, then an unlisted etc/passwd in the tar',
    code: 'UNSAFE_SYMLINK_PARENT',
    build: () => craftTar(manifestOf([link('etc', '/etc')]), [{ name: 'etc', type: 'symlink', linkname: '/etc' }, { name: 'etc/passwd', body: 'x' }]),
  },
  {
    name: 'hardlink-escape',
    description: 'a hard link entry pointing at /etc/shadow',
    code: 'UNSAFE_HARDLINK',
    build: () => craftTar(manifestOf([file('a.txt', 'A'), file('shadow', '')]), [{ name: 'a.txt', body: 'A' }, { name: 'shadow', type: 'link', linkname: '/etc/shadow' }]),
  },
  {
    name: 'device-node',
    description: 'a character device dev/mem',
    code: 'UNSAFE_SPECIAL_FILE',
    build: () => craftTar(manifestOf([dir('dev')]), [{ name: 'dev', type: 'directory' }, { name: 'dev/mem', type: 'character-device' }]),
  },
  {
    name: 'fifo',
    description: 'a FIFO',
    code: 'UNSAFE_SPECIAL_FILE',
    build: () => craftTar(manifestOf([file('a.txt', 'A')]), [{ name: 'a.txt', body: 'A' }, { name: 'pipe', type: 'fifo' }]),
  },
  {
    name: 'setuid',
    description: 'a root-owned setuid shell',
    code: 'UNSAFE_SETUID',
    build: () => craftTar(manifestOf([file('sh', '#!/bin/sh', 0o755)]), [{ name: 'sh', body: '#!/bin/sh', mode: 0o4755 }]),
  },
  {
    name: 'duplicate-entry',
    description: 'the same file twice, the second with other content',
    code: 'DUPLICATE_ENTRY',
    build: () => craftTar(manifestOf([file('a.txt', 'A'), file('b.txt', 'B')]), [{ name: 'a.txt', body: 'A' }, { name: 'b.txt', body: 'B' }, { name: 'a.txt', body: 'EVIL' }]),
  },
  {
    name: 'bomb',
    description: 'a manifest declaring a 300 GiB file (over the default caps); refused before any content is read',
    code: 'BUNDLE_LIMIT_EXCEEDED',
    build: () => craftTar(rawManifest([{ path: 'zero', type: 'file', mode: 0o644, size: 300 * 2 ** 30, sha256: sha('') }]), [{ name: 'zero', body: '' }]),
  },
  {
    name: 'content-mismatch',
    description: 'a file whose bytes differ from the manifest hash (same size)',
    code: 'ENTRY_DIGEST_MISMATCH',
    build: () => craftTar(manifestOf([file('app.js', 'console.log(1)')]), [{ name: 'app.js', body: 'console.log(2)' }]),
  },
  {
    name: 'unlisted-entry',
    description: 'an extra file the manifest does not list',
    code: 'MANIFEST_ENTRY_UNLISTED',
    build: () => craftTar(manifestOf([file('a.txt', 'A')]), [{ name: 'a.txt', body: 'A' }, { name: 'b.txt', body: 'B' }]),
  },
  {
    name: 'no-manifest',
    description: 'a plain tar with no .shoal/manifest.json',
    code: 'MANIFEST_MISSING',
    build: () => craftTar(null, [{ name: 'a.txt', body: 'A' }]),
  },
]

if (import.meta.url === `file://${process.argv[1]}`) {
  const out = new URL('../fixtures/hostile/', import.meta.url)
  mkdirSync(out, { recursive: true })
  const index: Record<string, { code: string; description: string }> = {}
  for (const c of HOSTILE_CASES) {
    writeFileSync(new URL(`${c.name}.tar`, out), await c.build())
    index[c.name] = { code: c.code, description: c.description }
  }
  writeFileSync(new URL('index.json', out), JSON.stringify(index, null, 2) + '\n')
  console.log(`wrote ${HOSTILE_CASES.length} hostile bundles to ${out.pathname}`)
}
