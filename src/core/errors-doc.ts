import { listErrors } from './errors.js'

/** The error reference, as Markdown: one row per stable code. */
export function renderErrorsDoc(): string {
  const rows = listErrors().map((e) => `| \`${e.code}\` | ${e.kind} | ${e.statusCode} | ${e.description} |`)
  return [
    '# Shoal error codes',
    '',
    'Every failure carries one of these stable codes: in HTTP responses (`{statusCode, code, message}`),',
    'in the CLI (`shoal: CODE: message`, or `--json`), and in host reports. Codes are never renamed',
    'or reused. Generated from `src/core/errors.ts` by `npm run docs:errors`.',
    '',
    'CLI exit codes by kind: `invalid` 2, `integrity` 3, `auth` 4, `conflict` 5, anything else 1.',
    '',
    '| code | kind | HTTP | when |',
    '|---|---|---|---|',
    ...rows,
    '',
  ].join('\n')
}
