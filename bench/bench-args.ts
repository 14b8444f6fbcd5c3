/** `--name value` from a benchmark's command line, or `fallback`. */
export function benchOption(name: string, fallback: string, argv: string[] = process.argv.slice(2)): string {
  const i = argv.indexOf(`--${name}`)
  return i >= 0 && argv[i + 1] ? argv[i + 1]! : fallback
}

/** A size like 512M, 1G, 1.5G or a plain number of bytes; a bare number up to 64 is taken as GiB (the old `--size 1`). */
export function parseSize(s: string): number {
  const m = /^(\d+(?:\.\d+)?)([KMG]?)$/i.exec(s)
  if (!m) throw new Error(`bad size ${s} (want e.g. 512M or 1G)`)
  const unit = m[2]!.toUpperCase() as '' | 'K' | 'M' | 'G'
  const n = Number(m[1])
  return Math.round(n * (unit === '' && n <= 64 ? 1024 ** 3 : { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[unit]))
}
