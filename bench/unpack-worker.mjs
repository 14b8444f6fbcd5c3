// One measured verify + unpack + commit in a fresh process (see unpack.bench.ts).
import { openHashedFile } from '../dist/core/index.js'
import { createSnapshotter, unpackInto } from '../dist/launcher/index.js'

const [backend, storeRoot, bundle, key] = process.argv.slice(2)
const snap = createSnapshotter(backend, storeRoot)
const t0 = process.hrtime.bigint()
const dir = await snap.prepare(`${key}-active`)
const result = await unpackInto(openHashedFile(bundle), dir)
await snap.commit(key, `${key}-active`)
const seconds = Number(process.hrtime.bigint() - t0) / 1e9
console.log(JSON.stringify({ digest: result.digest, seconds, maxRssMB: process.resourceUsage().maxRSS / 1024 }))
