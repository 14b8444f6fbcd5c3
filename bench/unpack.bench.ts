/**
 * npm run bench:unpack [-- --size 1G --runs 3]   (--size 512M, 1G, 1.5G ...)
 *
 * Verify + unpack (every file hashed against the manifest, then one syncfs) of a bundle of
 * mixed file sizes, per snapshotter backend, against GNU `tar -xf` of the same tar into the
 * same file system in the same run, and against `tar -xf` followed by `sync -f` (the same
 * durability as Shoal's unpack). Target: dir at least 0.7x tar -xf's speed.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { benchOption, parseSize } from './bench-args.js'
import { makeTree } from './make-tree.js'

const opt = benchOption
const size = parseSize(opt('size', '1G'))
const runs = Number(opt('runs', '3'))
const log = (s: string): void => void process.stderr.write(`[bench:unpack] ${s}\n`)
const isRoot = process.getuid?.() === 0
const work = mkdtempSync(join(tmpdir(), 'shoal-unpack-'))
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

function time(cmd: string, argv: string[]): number {
  const t0 = process.hrtime.bigint()
  execFileSync(cmd, argv, { stdio: ['ignore', 'ignore', 'inherit'] })
  return Number(process.hrtime.bigint() - t0) / 1e9
}

function unpack(backend: string, store: string, bundle: string, key: string): { seconds: number; maxRssMB: number } {
  const r = spawnSync(process.execPath, ['--max-semi-space-size=2', '--optimize-for-size', join(import.meta.dirname, 'unpack-worker.mjs'), backend, store, bundle, key], { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`unpack ${backend} failed: ${r.stderr}`)
  return JSON.parse(r.stdout)
}

let btrfsMount: string | undefined
try {
  const tree = join(work, 'tree')
  makeTree(tree, size)
  const bundle = join(work, 'bundle.tar')
  execFileSync('node', ['--max-semi-space-size=2', '--optimize-for-size', join(import.meta.dirname, 'pack-worker.mjs'), 'pack-file', tree, bundle], { stdio: ['ignore', 'ignore', 'inherit'] })
  rmSync(tree, { recursive: true, force: true })
  const bytes = statSync(bundle).size
  log(`bundle ${(bytes / 2 ** 30).toFixed(2)} GiB; ${runs} runs each`)

  const backends: Array<{ name: string; root: string }> = [{ name: 'dir', root: join(work, 'dir') }]
  if (isRoot) backends.push({ name: 'overlay', root: join(work, 'overlay') })
  if (isRoot && spawnSync('mkfs.btrfs', ['--version']).status === 0) {
    const img = join(work, 'btrfs.img')
    btrfsMount = join(work, 'btrfs')
    // every run keeps its snapshot: room for all of them
    execFileSync('truncate', ['-s', `${Math.ceil((bytes * (runs + 1)) / 2 ** 30) + 1}G`, img])
    execFileSync('mkfs.btrfs', ['-q', img])
    mkdirSync(btrfsMount)
    execFileSync('mount', ['-o', 'loop', img, btrfsMount])
    backends.push({ name: 'btrfs', root: join(btrfsMount, 'store') })
  }

  const rows: string[] = []
  const tarTimes: number[] = []
  const tarSyncTimes: number[] = []
  for (let i = 0; i < runs; i++) {
    const d = join(work, `tar-${i}`)
    mkdirSync(d)
    tarTimes.push(time('tar', ['-xf', bundle, '-C', d]))
    rmSync(d, { recursive: true, force: true })
    mkdirSync(d)
    tarSyncTimes.push(time('bash', ['-c', `tar -xf ${bundle} -C ${d} && sync -f ${d}`]))
    rmSync(d, { recursive: true, force: true })
  }
  const tarT = median(tarTimes)
  const tarSyncT = median(tarSyncTimes)
  for (const b of backends) {
    const times: number[] = []
    let rss = 0
    for (let i = 0; i < runs; i++) {
      const r = unpack(b.name, b.root, bundle, `img${i}`)
      times.push(r.seconds)
      rss = Math.max(rss, r.maxRssMB)
      log(`${b.name} run ${i + 1}: ${r.seconds.toFixed(2)} s`)
    }
    const t = median(times)
    const mib = (s: number): string => `${(bytes / 2 ** 20 / s).toFixed(0)} MiB/s`
    rows.push(`| ${b.name} | ${t.toFixed(2)} s (${mib(t)}) | ${(tarT / t).toFixed(2)}x | ${(tarSyncT / t).toFixed(2)}x | ${rss.toFixed(0)} MB |${b.name === 'dir' ? ` ${tarT / t >= 0.7 ? 'yes' : 'NO'} (>= 0.7x)` : ''} |`)
    // btrfs images are read-only subvolumes; the loop file system goes away whole below.
    if (b.name !== 'btrfs') rmSync(b.root, { recursive: true, force: true })
  }
  console.log(`\nbench:unpack — ${(bytes / 2 ** 30).toFixed(2)} GiB bundle, median of ${runs} runs, node ${process.version}`)
  console.log(`baseline: tar -xf ${tarT.toFixed(2)} s (${(bytes / 2 ** 20 / tarT).toFixed(0)} MiB/s); tar -xf + sync -f ${tarSyncT.toFixed(2)} s\n`)
  console.log('| backend | verify + unpack + commit | vs tar -xf | vs tar -xf + sync | peak RSS | target |')
  console.log('|---|---|---|---|---|---|')
  for (const r of rows) console.log(r)
} finally {
  if (btrfsMount) spawnSync('umount', ['-l', btrfsMount])
  rmSync(work, { recursive: true, force: true })
}
