/**
 * Wire contracts: the TypeBox schemas (and their types) of every message between Shoal's
 * processes. Servers declare them on their routes (requests checked, answers described in
 * /openapi.json); clients check what they receive against the same ones (checkAnswer).
 */
export * from './common.js'
export * from './hosts.js'
export * from './registry.js'
export * from './rollouts.js'
