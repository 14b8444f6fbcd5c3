/**
 * Breaks each safety guard on purpose and checks that the test meant to back it turns red, then
 * puts the code back: a test that stays green with its guard removed backs nothing.
 *
 *   npx tsx scripts/check-guards.ts [--only NAME]
 *
 * Each probe: a file, a snippet of it, what to put instead, and the test (file and name filter)
 * that must fail. Prints one line per probe and exits non-zero if any test stayed green or a
 * snippet was not found (the code moved: update the probe).
 */
import { spawnSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

interface Probe {
  name: string
  file: string
  find: string
  replace: string
  test: string
  filter: string
}

export const PROBES: Probe[] = [
  { name: 'host token bound to its host', file: 'src/tracker/routes/host-routes.ts', find: 'if (req.principal && host !== undefined) checkActsForHost(req.principal, host)', replace: 'void host', test: 'test/hostile/host-identity.test.ts', filter: 'cannot register, report for' },
  { name: 'fetcher acts only on its follows', file: 'src/fetcher/create-fetcher.ts', find: 'const next = answer.filter((t) => followed.has(t.follow))', replace: 'const next = answer', test: 'test/hostile/host-identity.test.ts', filter: 'does not follow is ignored' },
  { name: 'targets checked against the wire contract', file: 'src/core/api-client.ts', find: 'return checkAnswer(schema, value, `the answer to ${method} ${path}`)', replace: 'return (await json(res, \'the targets answer\')) as', test: 'test/hostile/host-identity.test.ts', filter: 'is a path' },
  { name: 'event stream keeps one pending event', file: 'src/tracker/event-stream.ts', find: '    if (waiting) {\n      pending = text\n      return\n    }\n', replace: '', test: 'test/hostile/event-stream.test.ts', filter: 'never reads' },
  { name: 'status failures bounded', file: 'src/tracker/rollout-status.ts', find: 'const shown = byCount.slice(0, failureCodes)', replace: 'const shown = byCount', test: 'test/hostile/tracker-inputs.test.ts', filter: 'keeps the status small' },
  { name: 'labels a closed record', file: 'src/core/wire/hosts.ts', find: '{ additionalProperties: false, maxProperties: MAX_LABELS, default: {} }', replace: '{ default: {} }', test: 'test/hostile/tracker-inputs.test.ts', filter: 'labels: more than 32' },
  { name: '--max-hosts', file: 'src/tracker/routes/host-routes.ts', find: '(await store.hostCount()) >= limits.maxHosts', replace: 'false', test: 'test/hostile/tracker-inputs.test.ts', filter: 'max-hosts' },
  { name: 'failed hand-offs reuse their activation', file: 'src/launcher/create-hand-off.ts', find: 'if (current && current.digest === b.digest && current.version === b.version && (await exists(current.rootfs))) return current', replace: '', test: 'test/hostile/failed-launch.test.ts', filter: 'ten failed hand-offs' },
  { name: 'gc removes .partial leftovers', file: 'src/launcher/snapshot-layout.ts', find: "active: [...(await readdir(layout.active)), ...checkouts.filter((n) => n.endsWith('.partial'))].sort(),", replace: 'active: (await readdir(layout.active)).sort(),', test: 'test/hostile/failed-launch.test.ts', filter: 'gc removes' },
  { name: 'peers per announcing source', file: 'src/tracker/swarm-store.ts', find: 'while (mine.length >= limits.perSource) removePeer(s, mine[0]!)', replace: '', test: 'test/hostile/swarm-attacks.test.ts', filter: '100,000 announces' },
  { name: 'origin vouched for by the tracker', file: 'src/swarm/peer-set.ts', find: 'const origin = saysOrigin && vouched && originLinks < MAX_ORIGIN_LINKS', replace: 'const origin = saysOrigin', test: 'test/hostile/swarm-attacks.test.ts', filter: '240 handshakes' },
  // Issue 17's table: each change once left the suite green.
  { name: 'tracker writes synchronous (fsync)', file: 'src/tracker/tracker-store.ts', find: '{ sync: true })', replace: '{ sync: false })', test: 'test/tracker/power-loss.test.ts', filter: 'acknowledged write' },
  { name: 'reports acknowledged only once written', file: 'src/tracker/tracker-store.ts', find: "      await put(key, record)\n      await fp.hit('tracker.report.after-write')", replace: "      void put(key, record)\n      await fp.hit('tracker.report.after-write')", test: 'test/tracker/crash-points.test.ts', filter: 'slow disk' },
  { name: 'activation pointer swapped by one rename', file: 'src/launcher/create-launcher.ts', find: "    await rename(tmp, join(dir, which))", replace: "    await (await import('node:fs/promises')).rm(join(dir, which), { force: true })\n    await new Promise((r) => setTimeout(r, 300))\n    await rename(tmp, join(dir, which))", test: 'test/launcher/crash-points.test.ts', filter: 'never missing' },
  { name: 'extractor opens files O_EXCL|O_NOFOLLOW', file: 'src/launcher/entry-writer.ts', find: 'constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW', replace: 'constants.O_WRONLY | constants.O_CREAT', test: 'test/launcher/entry-writer.test.ts', filter: 'never writes through a symlink' },
  { name: 'extractor writes only under directories it made', file: 'src/launcher/entry-writer.ts', find: 'if (!made.has(parentPath(entry.path))) {', replace: 'if (false) {', test: 'test/launcher/entry-writer.test.ts', filter: 'never writes under a symlink' },
  { name: 'connection bounds', file: 'src/core/guard-connections.ts', find: '    if (open >= maxConnections || (maxPerAddress > 0 && n >= maxPerAddress) || (maxPerAddress > 0 && crowded)) {', replace: '    if (false) {', test: 'test/hostile/connections.test.ts', filter: 'bounds connections per address' },
]

const ROOT = fileURLToPath(new URL('../', import.meta.url))
const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined
let bad = 0
for (const p of PROBES.filter((x) => !only || x.name.includes(only))) {
  const path = `${ROOT}${p.file}`
  const original = readFileSync(path, 'utf8')
  if (!original.includes(p.find)) {
    console.log(`MISSING  ${p.name}: the snippet is not in ${p.file}`)
    bad++
    continue
  }
  writeFileSync(path, original.replace(p.find, p.replace))
  try {
    const r = spawnSync(process.execPath, [`${ROOT}node_modules/vitest/vitest.mjs`, 'run', p.test, '-t', p.filter, '--reporter=dot'], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, CI: '1' } })
    const red = r.status !== 0 && /failed/.test(`${r.stdout}${r.stderr}`)
    console.log(`${red ? 'red     ' : 'GREEN   '} ${p.name} (${p.test} -t "${p.filter}")`)
    if (!red) bad++
  } finally {
    writeFileSync(path, original)
  }
}
process.exitCode = bad ? 1 : 0
