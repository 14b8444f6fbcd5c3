/**
 * bench:simulate — the fleet simulator (fleet-sim.ts) over a range of fleet sizes: completion
 * time percentiles over T_min (S / host rate), origin egress over S, and cross-rack traffic over
 * its minimum (each rack fetching the bundle once), with and without topology labels.
 *
 *   npm run bench:simulate -- [--hosts 16,100,1000,10000] [--size-mib 1024] [--rate-gbit 10]
 *     [--piece-kib K] [--topology aware,none] [--oversub 4] [--hosts-per-rack 40]
 *     [--racks-per-region 10] [--late 0] [--fail 0] [--seed 1] [--pipeline-kib 512] [--pipeline-max-kib 16384]
 *     [--rtt-rack-ms 0.1] [--rtt-region-ms 0.5] [--rtt-far-ms 30]
 *     [--gauge-sample-ms 50] [--gauge-headroom 2]   (the engine's pipeline gauge, to try other settings)
 *     [--fixed-pipeline near|far]   (those links keep --pipeline-max-kib from the start)
 *     [--whole-slots 1]   (a piece holds a whole slot however slowly it moves: the model before 2026-12-01)
 *   npm run bench:simulate -- --cross-check      # the bench:fleet set-ups (N=8 and 16, 16 MiB, 10 Mbit/s)
 *     [--hosts 8,16,32] [--size-mib 16] [--rate-mbit 10] [--racks K [--oversub 4] [--topology aware,none]]
 *     [--wire-efficiency 0.956]   (payload per byte on bench:fleet's tbf-limited links: 1,448 / 1,514)
 *   ... [--waves 1,10%,50%,100%] [--max-unavailable 100%,10%] [--activate-s 0.1,0.5]
 *     after each run, the same rollout activated in waves by rack with the tracker's planner (bake 0,
 *     all healthy): time until every host runs, against one wave (every host activates when staged)
 *
 * Runs on one core, no root; prints a progress line to stderr every few seconds of wall time.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { benchOption } from '../bench-args.js'
import { activateInWaves } from './activate-waves.js'
import { simulate, type SimConfig, type SimResult } from './fleet-sim.js'

const argv = process.argv.slice(2)
const crossCheck = argv.includes('--cross-check')
const num = (name: string, fallback: string): number => Number(benchOption(name, fallback))

interface Row {
  config: Omit<SimConfig, 'onProgress'>
  result: SimResult
}

function run(config: Omit<SimConfig, 'onProgress'>): Row {
  let lastPrint = performance.now()
  const label = `N=${config.hosts} ${config.topology ?? 'aware'}`
  process.stderr.write(`[simulate] ${label}: S=${config.sizeBytes / 2 ** 20} MiB at ${config.rateBps / 1e9} Gbit/s ...\n`)
  const result = simulate({
    ...config,
    onProgress: (p) => {
      if (performance.now() - lastPrint < 5000) return
      lastPrint = performance.now()
      process.stderr.write(`[simulate] ${label}: t=${p.simTime.toFixed(3)} s simulated, ${p.done}/${p.hosts} hosts done, ${(p.events / 1e6).toFixed(1)}M events\n`)
    },
  })
  process.stderr.write(`[simulate] ${label}: done in ${(result.wallMs / 1000).toFixed(1)} s wall, ${result.events} events\n`)
  return { config, result }
}

const q = (r: SimResult, f: number): string => (r.ratios.length ? r.ratios[Math.min(r.ratios.length - 1, Math.floor(f * r.ratios.length))]!.toFixed(2) : '-')

function table(rows: Row[]): void {
  console.table(
    rows.map(({ config, result: r }) => ({
      hosts: r.hosts,
      topology: config.topology ?? 'aware',
      pieces: `${r.pieces} x ${r.pieceLength / 1024} KiB`,
      'T_min s': r.tMin.toFixed(3),
      'p50/T_min': q(r, 0.5),
      'p90/T_min': q(r, 0.9),
      'p99/T_min': q(r, 0.99),
      'last/T_min': r.ratios.length ? r.ratios.at(-1)!.toFixed(2) : '-',
      'origin/S': (r.originBytes / config.sizeBytes).toFixed(2),
      'cross-rack/min': r.racks > 0 ? (r.crossRackBytes / (r.racks * config.sizeBytes)).toFixed(2) : '-',
      'done/failed/stuck': `${r.completed}/${r.failed}/${r.stuck}`,
      'wall s': (r.wallMs / 1000).toFixed(1),
    })),
  )
}

const rows: Row[] = []
if (crossCheck) {
  // bench:fleet's network: one switch (one rack), every link rate-limited both ways by tc tbf
  // (50 ms queue), so RTT under load is tens of ms; startMs covers the fetcher's reaction to the
  // channel move (long-poll answer, torrent fetch, announce).
  const rateMbit = num('rate-mbit', '10')
  // With --racks K: bench:fleet --racks K (hosts behind K rack routers, 4:1 uplinks by default),
  // labelled (aware) or not (--topology none).
  const racks = num('racks', '0')
  for (const hosts of benchOption('hosts', '8,16').split(',').map(Number)) {
    for (const topology of benchOption('topology', racks > 0 ? 'aware' : 'none').split(',') as ('aware' | 'none')[]) {
      rows.push(
        run({
          hosts,
          sizeBytes: num('size-mib', '16') * 2 ** 20,
          rateBps: rateMbit * 1e6,
          hostsPerRack: racks > 0 ? Math.ceil(hosts / racks) : 1000,
          oversubscription: racks > 0 ? num('oversub', '4') : 0,
          rttMs: { rack: num('rtt-ms', '20'), region: num('rtt-ms', '20'), far: num('rtt-ms', '20') },
          startMs: num('start-ms', '300'),
          // tbf counts whole frames: TCP with timestamps carries 1,448 payload bytes in 1,514.
          wireEfficiency: num('wire-efficiency', String(1448 / 1514)),
          topology,
          seed: num('seed', '1'),
        }),
      )
    }
  }
} else {
  for (const hosts of benchOption('hosts', '16,100,1000,10000').split(',').map(Number)) {
    for (const topology of benchOption('topology', 'aware').split(',') as ('aware' | 'none')[]) {
      const pieceKib = benchOption('piece-kib', '')
      rows.push(
        run({
          hosts,
          sizeBytes: num('size-mib', '1024') * 2 ** 20,
          pieceLength: pieceKib ? Number(pieceKib) * 1024 : undefined,
          rateBps: num('rate-gbit', '10') * 1e9,
          topology,
          oversubscription: num('oversub', '4'),
          hostsPerRack: num('hosts-per-rack', '40'),
          racksPerRegion: num('racks-per-region', '10'),
          lateFraction: num('late', '0'),
          failFraction: num('fail', '0'),
          rttMs: { rack: num('rtt-rack-ms', '0.1'), region: num('rtt-region-ms', '0.5'), far: num('rtt-far-ms', '30') },
          pipelineBytes: num('pipeline-kib', '512') * 1024,
          maxPipelineBytes: num('pipeline-max-kib', '16384') * 1024,
          wholeSlots: benchOption('whole-slots', '') !== '',
          fixedPipeline: (benchOption('fixed-pipeline', '') || undefined) as 'near' | 'far' | undefined,
          gauge: { sampleMs: benchOption('gauge-sample-ms', '') ? num('gauge-sample-ms', '50') : undefined, headroom: benchOption('gauge-headroom', '') ? num('gauge-headroom', '2') : undefined },
          seed: num('seed', '1'),
        }),
      )
    }
  }
}
table(rows)
if (!crossCheck) {
  // Waves cost only activation: staging (the download) is the same swarm-wide run.
  const waves = benchOption('waves', '1,10%,50%,100%').split(',')
  const waveRows = rows.flatMap(({ config, result: r }) => benchOption('activate-s', '0.1,0.5').split(',').map(Number).flatMap((activateS) => {
    const oneWave = Math.max(...r.doneAt.filter((d) => d < Infinity)) + activateS
    return benchOption('max-unavailable', '100%,10%').split(',').map((mu) => {
      const w = activateInWaves(r.doneAt.map((d) => (d < Infinity ? d : 0)), r.rackOf, { waves, by: 'rack', maxUnavailable: mu, bakeSeconds: 0, haltAfter: '1', autoRollback: false }, activateS)
      return {
        hosts: r.hosts,
        topology: config.topology ?? 'aware',
        waves: `${waves.join(',')} (${w.waves})`,
        'max-unavailable per rack': mu,
        batches: w.batches,
        'activate s': activateS,
        'one wave: all running s': oneWave.toFixed(2),
        'waves: all running s': w.lastRunningS.toFixed(2),
        'waves / one wave': (w.lastRunningS / oneWave).toFixed(2),
        'bound (batches x activate) s': (w.batches * activateS).toFixed(2),
      }
    })
  }))
  console.table(waveRows)
}
const out = fileURLToPath(new URL(`../results/simulate${crossCheck ? '-cross-check' : ''}.json`, import.meta.url))
mkdirSync(fileURLToPath(new URL('../results/', import.meta.url)), { recursive: true })
writeFileSync(out, JSON.stringify(rows.map(({ config, result }) => ({ config, result: { ...result, ratios: undefined, doneAt: undefined, rackOf: undefined, p50: q(result, 0.5), p90: q(result, 0.9), p99: q(result, 0.99) } })), null, 2) + '\n')
console.log(`results: ${out}`)
