import { describe, expect, it } from 'vitest'
import { simulate } from '../../bench/simulate/fleet-sim.js'

// The simulator drives the production scheduler, super-seed, topology rules and tracker store;
// these runs are small enough for the suite and check what the bench's figures rest on.
const MiB = 2 ** 20

describe('fleet simulator', () => {
  it('delivers the bundle to every host, no faster than T_min, with the origin sending it about once, and reproducibly', () => {
    const cfg = { hosts: 16, sizeBytes: 8 * MiB, pieceLength: 64 * 1024, rateBps: 1e9, seed: 7 }
    const r = simulate(cfg)
    expect(r.completed).toBe(16)
    expect(r.stuck).toBe(0)
    expect(r.ratios[0]).toBeGreaterThanOrEqual(1)
    expect(r.ratios.at(-1)).toBeLessThan(2)
    expect(r.originBytes).toBeGreaterThanOrEqual(8 * MiB)
    expect(r.originBytes).toBeLessThan(1.5 * 8 * MiB)
    const again = simulate(cfg)
    expect(again.lastDoneS).toBe(r.lastDoneS)
    expect(again.originBytes).toBe(r.originBytes)
  })

  it('with rack labels, racks pull the bundle through their uplinks about once; without, many times', () => {
    const base = { hosts: 120, sizeBytes: 8 * MiB, pieceLength: 64 * 1024, rateBps: 1e9, hostsPerRack: 40, oversubscription: 4, seed: 3 }
    const aware = simulate({ ...base, topology: 'aware' })
    const none = simulate({ ...base, topology: 'none' })
    for (const r of [aware, none]) expect(r.completed).toBe(120)
    const minimum = aware.racks * base.sizeBytes
    expect(aware.crossRackBytes).toBeGreaterThanOrEqual(minimum)
    expect(aware.crossRackBytes / minimum).toBeLessThanOrEqual(1.5)
    expect(none.crossRackBytes).toBeGreaterThan(2 * aware.crossRackBytes)
  })

  it('moves payload at the wire efficiency times the link rate and reports against the nominal T_min', () => {
    // One host fetching from the origin alone: its time is about S / (rate x efficiency).
    const cfg = { hosts: 1, sizeBytes: 8 * MiB, pieceLength: 64 * 1024, rateBps: 1e9, seed: 5 }
    const full = simulate(cfg)
    const half = simulate({ ...cfg, wireEfficiency: 0.5 })
    expect(half.tMin).toBe(full.tMin)
    expect(half.ratios[0]! / full.ratios[0]!).toBeGreaterThan(1.8)
    expect(half.ratios[0]! / full.ratios[0]!).toBeLessThan(2.05)
  })

  it('finishes every host that stays when some fail mid-download and others join late', () => {
    const r = simulate({ hosts: 60, sizeBytes: 4 * MiB, pieceLength: 64 * 1024, rateBps: 1e9, hostsPerRack: 20, failFraction: 0.2, lateFraction: 0.3, seed: 11 })
    expect(r.failed).toBeGreaterThan(0)
    expect(r.completed + r.failed).toBe(60)
    expect(r.stuck).toBe(0)
  })

  it('a piece its pipeline caps holds only its share of a slot: over far links the same swarm finishes sooner than when it held a whole slot', () => {
    // Two regions 30 ms apart and a pipeline fixed at 256 KiB (8 MB/s per far connection, a
    // fraction of a slot's 31 MB/s at 1 Gbit/s): held whole, those transfers idle most of their slots.
    const base = { hosts: 80, sizeBytes: 8 * MiB, pieceLength: 256 * 1024, rateBps: 1e9, hostsPerRack: 10, racksPerRegion: 2, pipelineBytes: 256 * 1024, maxPipelineBytes: 256 * 1024, rttMs: { rack: 0.1, region: 0.5, far: 30 }, seed: 5 }
    const shares = simulate(base)
    const whole = simulate({ ...base, wholeSlots: true })
    for (const r of [shares, whole]) expect(r.completed).toBe(80)
    expect(shares.lastDoneS).toBeLessThan(whole.lastDoneS * 0.95)
  })
})

