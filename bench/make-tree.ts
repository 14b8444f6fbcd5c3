import { randomFillSync } from 'node:crypto'
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs'
import { join } from 'node:path'

const log = (s: string): void => void process.stderr.write(`[bench] ${s}\n`)

/** A deterministic mix: many small files, some medium, a few large (by bytes ~30/30/40%). */
export function makeTree(root: string, total: number): { files: number; bytes: number } {
  const buf = Buffer.alloc(1 << 20)
  let seed = 42
  const rand = (): number => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff)
  let bytes = 0
  let files = 0
  let lastLog = Date.now()
  const classes = [
    { share: 0.3, min: 1024, max: 64 * 1024 },
    { share: 0.3, min: 256 * 1024, max: 4 << 20 },
    { share: 0.4, min: 32 << 20, max: 128 << 20 },
  ]
  for (const [ci, c] of classes.entries()) {
    let classBytes = 0
    while (classBytes < c.share * total) {
      const n = Math.min(Math.floor(c.min + rand() * (c.max - c.min)), Math.ceil(c.share * total - classBytes))
      const dir = join(root, `c${ci}`, `d${Math.floor(files / 200)}`)
      mkdirSync(dir, { recursive: true })
      const fd = openSync(join(dir, `f${files}.bin`), 'w', rand() < 0.1 ? 0o755 : 0o644)
      let left = n
      while (left > 0) {
        const k = Math.min(left, buf.length)
        randomFillSync(buf, 0, k)
        writeSync(fd, buf, 0, k)
        left -= k
      }
      closeSync(fd)
      classBytes += n
      bytes += n
      files++
      if (Date.now() - lastLog > 5000) {
        lastLog = Date.now()
        log(`generating: ${(bytes / 2 ** 20).toFixed(0)} / ${(total / 2 ** 20).toFixed(0)} MiB`)
      }
    }
  }
  return { files, bytes }
}

