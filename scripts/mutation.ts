/**
 * npm run test:mutation [-- --only NAME]: mutation testing of the modules whose guarantees
 * matter most, each against the in-process tests that back it; prints one line per module
 * (killed / mutants = score) and writes reports/mutation/<module>.json. Target: 80% each.
 */
import { spawnSync } from 'node:child_process'
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

export const MODULES: Array<{ name: string; mutate: string[]; tests: string[] }> = [
  { name: 'bundle verification', mutate: ['src/core/verify-bundle.ts', 'src/core/bundle-checks.ts'], tests: ['test/core/verify-bundle.test.ts', 'test/core/verify-bundle-edges.test.ts', 'test/core/hostile-corpus.test.ts', 'test/hostile/host-inputs.test.ts'] },
  { name: 'manifest rules', mutate: ['src/core/manifest.ts', 'src/core/bundle-path.ts'], tests: ['test/core/manifest.test.ts', 'test/core/manifest-edges.test.ts', 'test/core/verify-bundle.test.ts', 'test/core/hostile-corpus.test.ts'] },
  { name: 'extraction', mutate: ['src/launcher/extract-bundle.ts', 'src/launcher/entry-writer.ts'], tests: ['test/launcher/extract-bundle.test.ts', 'test/launcher/entry-writer.test.ts', 'test/launcher/extract-edges.test.ts'] },
  { name: 'activation', mutate: ['src/launcher/create-launcher.ts', 'src/launcher/collect-garbage.ts'], tests: ['test/launcher/launcher.test.ts', 'test/launcher/activation.test.ts', 'test/hostile/failed-launch.test.ts'] },
  { name: 'tracker store', mutate: ['src/tracker/tracker-store.ts', 'src/tracker/store-records.ts'], tests: ['test/tracker/tracker-store.test.ts', 'test/tracker/tracker-api.test.ts'] },
  { name: 'auth', mutate: ['src/core/tokens.ts'], tests: ['test/core/tokens.test.ts', 'test/hostile/host-identity.test.ts'] },
  { name: 'piece verification', mutate: ['src/swarm/torrent-info.ts', 'src/swarm/piece-file.ts'], tests: ['test/swarm/torrent-info.test.ts', 'test/swarm/piece-file.test.ts', 'test/swarm/piece-edges.test.ts'] },
  { name: 'piece scheduler', mutate: ['src/swarm/piece-scheduler.ts'], tests: ['test/swarm/piece-scheduler.test.ts', 'test/swarm/piece-scheduler-edges.test.ts', 'test/swarm/topology.test.ts'] },
]

const ROOT = fileURLToPath(new URL('../', import.meta.url))
const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined
mkdirSync(`${ROOT}reports/mutation`, { recursive: true })
const rows: string[] = []
let below = 0
for (const m of MODULES.filter((x) => !only || x.name.includes(only))) {
  const started = Date.now()
  const r = spawnSync(process.execPath, [`${ROOT}node_modules/@stryker-mutator/core/bin/stryker.js`, 'run', '--mutate', m.mutate.join(',')], {
    cwd: ROOT,
    env: { ...process.env, SHOAL_MUTATION_TESTS: m.tests.join(',') },
    stdio: ['ignore', 'inherit', 'inherit'],
  })
  if (r.status !== 0) {
    rows.push(`${m.name}: Stryker failed (exit ${r.status})`)
    below++
    continue
  }
  const file = `${ROOT}reports/mutation/${m.name.replace(/\W+/g, '-')}.json`
  renameSync(`${ROOT}reports/mutation/mutation.json`, file)
  const report = JSON.parse(readFileSync(file, 'utf8')) as { files: Record<string, { mutants: { status: string }[] }> }
  const all = Object.values(report.files).flatMap((f) => f.mutants)
  const killed = all.filter((x) => x.status === 'Killed' || x.status === 'Timeout').length
  const valid = all.filter((x) => x.status !== 'CompileError' && x.status !== 'RuntimeError' && x.status !== 'Ignored').length
  const score = valid ? (100 * killed) / valid : 100
  if (score < 80) below++
  rows.push(`${m.name.padEnd(20)} ${m.mutate.join(', ').padEnd(62)} ${String(killed).padStart(4)} / ${String(valid).padEnd(4)} ${score.toFixed(1).padStart(5)}%  ${score >= 80 ? 'ok' : 'BELOW 80%'}  (${Math.round((Date.now() - started) / 1000)} s)`)
  writeFileSync(`${ROOT}reports/mutation/summary.txt`, `${rows.join('\n')}\n`)
}
console.log(`\nmutation scores (killed or timed out / mutants), node ${process.version}:\n${rows.join('\n')}`)
process.exitCode = below ? 1 : 0
