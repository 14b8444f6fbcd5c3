import { NameInvalidError } from './errors.js'

/**
 * Names travel in URLs, file names and signed messages, so each has a closed alphabet:
 * no slashes, no dots at the start, no whitespace or newlines.
 */
// The look-ahead keeps '..' out in JSON schemas too (the tracker's routes use these sources), so
// the API and the CLI accept exactly the same names.
const PATTERNS = {
  release: /^(?!.*\.\.)[a-z0-9][a-z0-9._-]{0,127}$/,
  version: /^(?!.*\.\.)[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/,
  channel: /^(?!.*\.\.)[a-z0-9][a-z0-9._-]{0,63}$/,
  host: /^(?!.*\.\.)[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/,
} as const

export type NameKind = keyof typeof PATTERNS

/** Regular expression source for a name kind, for JSON schemas. */
export function namePattern(kind: NameKind): string {
  return PATTERNS[kind].source
}

/** Returns `value` when it is a valid name of `kind`, else throws NAME_INVALID. */
export function checkName(kind: NameKind, value: string): string {
  if (typeof value !== 'string' || !PATTERNS[kind].test(value)) {
    throw new NameInvalidError(
      `Cannot use ${kind} name: it must match ${PATTERNS[kind].source} (current value is ${JSON.stringify(String(value).slice(0, 80))})`,
      { details: { kind, value } },
    )
  }
  return value
}
