import { createTrackerStore } from '../../src/tracker/index.js'
import { useTempDirs } from '../helpers/temp-dir.js'
import { storeContract } from './store-contract.js'

const tempDir = useTempDirs()

storeContract('level', async () => {
  const dataDir = await tempDir()
  const clock = { now: new Date('2026-11-29T12:00:00.000Z') }
  return { clock, open: () => createTrackerStore({ dataDir, now: () => clock.now }) }
})
