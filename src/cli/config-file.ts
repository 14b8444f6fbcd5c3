import { readFileSync } from 'node:fs'
import type { Command, Option } from 'commander'
import { parse as parseYaml } from 'yaml'
import { UsageError } from '../core/index.js'

/** `--data-dir` -> `SHOAL_DATA_DIR`; `--no-mirror` -> `SHOAL_NO_MIRROR`. */
const envName = (flag: string): string => `SHOAL_${flag.replace(/^--/, '').replace(/-/g, '_').toUpperCase()}`

/** The config keys of a command: its long flags without the dashes (`data-dir`, `no-mirror`). */
const keyOf = (o: Option): string | undefined => o.long?.replace(/^--/, '')

/** The `--config` path in a subcommand's raw arguments, if any. */
function configPathIn(args: readonly string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--config') return args[i + 1]
    if (args[i]!.startsWith('--config=')) return args[i]!.slice('--config='.length)
  }
  return undefined
}

/**
 * Settings for a daemon from a YAML file (`--config FILE` or $SHOAL_CONFIG), every flag a key
 * (`data-dir: /var/lib/shoal`, `max-hosts: 5000`, `no-mirror: true`), and from `SHOAL_*`
 * environment variables (`SHOAL_DATA_DIR`). A flag on the command line wins over the
 * environment, which wins over the file, which wins over the default. A key the command does not
 * have, or a value of the wrong kind, is refused with the key and the reason. Secrets stay in
 * files of their own (`--tokens`, `--tracker-token-file`, `--store-file`, `--redis-file`).
 */
export function withConfigFile(cmd: Command): Command {
  cmd.option('--config <file>', 'YAML file with settings, every flag a key (data-dir: ...); flags and SHOAL_* environment variables win over it (also $SHOAL_CONFIG)')
  // The variable names show in --help; applyConfigFile reads them (commander only listens for
  // variables of options declared with them).
  for (const o of cmd.options) {
    const key = keyOf(o)
    if (key && key !== 'config' && key !== 'help' && !o.envVar) o.env(envName(key))
  }
  return cmd
}

/**
 * Applies the config file of `sub` (named in its raw arguments or $SHOAL_CONFIG), then its
 * SHOAL_* variables, before commander parses its flags (which then win over both).
 */
export function applyConfigFile(sub: Command, rawArgs: readonly string[], env: NodeJS.ProcessEnv): void {
  if (!sub.options.some((o) => o.long === '--config')) return
  const path = configPathIn(rawArgs) ?? env.SHOAL_CONFIG
  if (path !== undefined) applyFile(sub, path)
  for (const o of sub.options) {
    const key = keyOf(o)
    const value = o.envVar ? env[o.envVar] : undefined
    if (!key || value === undefined || key === 'config') continue
    if (o.required || o.optional) sub.setOptionValueWithSource(o.attributeName(), Array.isArray(o.defaultValue) ? value.split(',').map((v) => v.trim()).filter(Boolean) : value, 'env')
    else if (value !== '' && value !== '0' && value.toLowerCase() !== 'false') sub.setOptionValueWithSource(o.attributeName(), o.negate !== true, 'env')
  }
}

function applyFile(sub: Command, path: string): void {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    throw new UsageError(`Cannot read config ${path}: ${(err as Error).message}`)
  }
  let doc: unknown
  try {
    doc = parseYaml(text, { maxAliasCount: 50 })
  } catch (err) {
    throw new UsageError(`Cannot use config ${path}: not YAML (${(err as Error).message.split('\n')[0]})`)
  }
  if (doc === null || doc === undefined) return
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new UsageError(`Cannot use config ${path}: it must be a mapping of settings (key: value), like the flags of shoal ${sub.name()}`)
  const byKey = new Map(sub.options.flatMap((o) => (keyOf(o) ? [[keyOf(o)!, o] as const] : [])))
  for (const [key, value] of Object.entries(doc as Record<string, unknown>)) {
    const o = byKey.get(key)
    if (!o || key === 'config' || key === 'help') {
      throw new UsageError(`Cannot use config ${path}: unknown key "${key}" (shoal ${sub.name()} takes: ${[...byKey.keys()].filter((k) => k !== 'config' && k !== 'help').join(', ')})`)
    }
    const takesValue = o.required || o.optional
    if (takesValue && Array.isArray(o.defaultValue)) {
      // A repeatable flag (--follow, --label): a list, or one value.
      const list = Array.isArray(value) ? value : [value]
      if (!list.every((v) => typeof v === 'string' || typeof v === 'number')) throw new UsageError(`Cannot use config ${path}: key "${key}" needs a list of strings (or one string)`)
      sub.setOptionValueWithSource(o.attributeName(), list.map(String), 'config')
    } else if (takesValue) {
      if (typeof value !== 'string' && typeof value !== 'number') throw new UsageError(`Cannot use config ${path}: key "${key}" needs a string or a number (found ${Array.isArray(value) ? 'a list' : value === null ? 'nothing' : typeof value})`)
      sub.setOptionValueWithSource(o.attributeName(), String(value), 'config')
    } else {
      if (typeof value !== 'boolean') throw new UsageError(`Cannot use config ${path}: key "${key}" is a switch: write true or false (found ${typeof value})`)
      // `no-mirror: true` is --no-mirror; `quiet: false` leaves the default.
      const negate = o.negate === true
      if (value) sub.setOptionValueWithSource(o.attributeName(), !negate, 'config')
    }
  }
}
