/**
 * npm run bench:pack [-- --size 1G --rss-size 4G --runs 3 --dir /path]
 *
 * Pack + digest of a tree of mixed file sizes against `tar -cf - DIR | sha256sum`, and verify
 * against `sha256sum BUNDLE`, in the same run on the same (page-cache warm) data. Figures are
 * ratios of throughput against the baseline; the targets are pack >= 0.8x and verify >= 0.9x.
 * Peak RSS of packing a larger tree (--rss-size) is measured in a separate process.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs'
import { makeTree } from './make-tree.js'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { benchOption, parseSize } from './bench-args.js'

const opt = benchOption
const size = parseSize(opt('size', '1G'))
const rssSize = parseSize(opt('rss-size', '4G'))
const runs = Number(opt('runs', '3'))
const base = opt('dir', '')
const work = base ? (mkdirSync(base, { recursive: true }), mkdtempSync(join(base, 'shoal-bench-'))) : mkdtempSync(join(tmpdir(), 'shoal-bench-'))
const log = (s: string): void => void process.stderr.write(`[bench:pack] ${s}\n`)

function timeShell(cmd: string): number {
  const t0 = process.hrtime.bigint()
  execFileSync('bash', ['-o', 'pipefail', '-c', cmd], { stdio: ['ignore', 'ignore', 'inherit'] })
  return Number(process.hrtime.bigint() - t0) / 1e9
}

function worker(...a: string[]): { digest: string; size: number; seconds: number; maxRssMB: number } {
  // Same V8 flags as bin/shoal.js gives streaming commands, so the figures are the CLI's.
  const r = spawnSync(process.execPath, ['--max-semi-space-size=2', '--optimize-for-size', join(import.meta.dirname, 'pack-worker.mjs'), ...a], { encoding: 'utf8', maxBuffer: 1 << 20 })
  if (r.status !== 0) throw new Error(`worker ${a.join(' ')} failed: ${r.stderr}`)
  return JSON.parse(r.stdout)
}

/** 512 MiB, 1 GiB, 1.5 GiB */
const sizeLabel = (n: number): string => (n < 2 ** 30 ? `${Math.round(n / 2 ** 20)} MiB` : `${+(n / 2 ** 30).toFixed(2)} GiB`)
const median = (xs: number[]): number => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!

try {
  log(`work dir ${work}; tree ${(size / 2 ** 30).toFixed(2)} GiB, ${runs} runs each, node ${process.version}`)
  const tree = join(work, 'tree')
  const t = makeTree(tree, size)
  log(`tree: ${t.files} files, ${(t.bytes / 2 ** 30).toFixed(2)} GiB`)
  // Warm the page cache for both contenders alike.
  timeShell(`tar -cf - -C ${tree} . > /dev/null`)

  const bundle = join(work, 'bundle.tar')
  worker('pack-file', tree, bundle)
  const bundleSize = statSync(bundle).size

  const tarTimes: number[] = []
  const packTimes: number[] = []
  const shaTimes: number[] = []
  const verifyTimes: number[] = []
  let packRss = 0
  let verifyRss = 0
  for (let i = 0; i < runs; i++) {
    tarTimes.push(timeShell(`tar -cf - -C ${tree} . | sha256sum > /dev/null`))
    const p = worker('pack', tree)
    packTimes.push(p.seconds)
    packRss = Math.max(packRss, p.maxRssMB)
    shaTimes.push(timeShell(`sha256sum ${bundle} > /dev/null`))
    const v = worker('verify', bundle)
    verifyTimes.push(v.seconds)
    verifyRss = Math.max(verifyRss, v.maxRssMB)
    log(`run ${i + 1}/${runs}: tar|sha256sum ${tarTimes[i]!.toFixed(2)}s, pack ${p.seconds.toFixed(2)}s, sha256sum ${shaTimes[i]!.toFixed(2)}s, verify ${v.seconds.toFixed(2)}s`)
  }
  rmSync(bundle)

  let bigRss: number | undefined
  if (rssSize > 0) {
    const big = join(work, 'big')
    log(`generating ${(rssSize / 2 ** 30).toFixed(1)} GiB tree for peak RSS`)
    makeTree(big, rssSize)
    const r = worker('pack', big)
    bigRss = r.maxRssMB
    rmSync(big, { recursive: true, force: true })
  }

  const mib = (s: number): string => `${(bundleSize / 2 ** 20 / s).toFixed(0)} MiB/s`
  const [tT, pT, sT, vT] = [median(tarTimes), median(packTimes), median(shaTimes), median(verifyTimes)]
  const rows = [
    ['pack + digest', `${pT.toFixed(2)} s (${mib(pT)})`, `tar -cf - \\| sha256sum: ${tT.toFixed(2)} s (${mib(tT)})`, `${(tT / pT).toFixed(2)}x`, '>= 0.8x', tT / pT >= 0.8],
    ['verify', `${vT.toFixed(2)} s (${mib(vT)})`, `sha256sum: ${sT.toFixed(2)} s (${mib(sT)})`, `${(sT / vT).toFixed(2)}x`, '>= 0.9x', sT / vT >= 0.9],
  ] as const
  console.log(`\nbench:pack — ${t.files} files, ${(bundleSize / 2 ** 30).toFixed(2)} GiB bundle, median of ${runs} runs, node ${process.version}\n`)
  console.log('| operation | Shoal | baseline (same run) | ratio | target | ok |')
  console.log('|---|---|---|---|---|---|')
  for (const r of rows) console.log(`| ${r[0]} | ${r[1]} | ${r[2]} | ${r[3]} | ${r[4]} | ${r[5] ? 'yes' : 'NO'} |`)
  console.log(`| peak RSS, pack ${sizeLabel(size)} | ${packRss.toFixed(0)} MB | | | | |`)
  console.log(`| peak RSS, verify ${sizeLabel(size)} | ${verifyRss.toFixed(0)} MB | | | | |`)
  if (bigRss !== undefined) console.log(`| peak RSS, pack ${sizeLabel(rssSize)} | ${bigRss.toFixed(0)} MB | | | < 150 MB | ${bigRss < 150 ? 'yes' : 'NO'} |`)
} finally {
  rmSync(work, { recursive: true, force: true })
}
