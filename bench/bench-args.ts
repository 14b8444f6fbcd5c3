/** `--name value` from a benchmark's command line, or `fallback`. */
export function benchOption(name: string, fallback: string, argv: string[] = process.argv.slice(2)): string {
  const i = argv.indexOf(`--${name}`)
  return i >= 0 && argv[i + 1] ? argv[i + 1]! : fallback
}
