/**
 * Failpoints (as etcd's gofail and TiKV's fail-rs have them): named places in the code where a
 * test can make the process die, stall or fail, to prove that a crash at exactly that moment
 * loses nothing it promised. Inert unless turned on: a component receives `failpoints` in its
 * init and calls `hit(name)`, which for NO_FAILPOINTS returns at once. Only the CLI turns them on,
 * from `SHOAL_FAILPOINTS` (see parseFailpoints); every name is listed in FAILPOINT_NAMES.
 */

/** Every failpoint in the code, and the moment it stands for. */
export const FAILPOINT_NAMES = {
  'launcher.install.unpacked': 'the bundle is verified and unpacked into the active snapshot, before its image record is written',
  'launcher.install.recorded': 'the image record (meta) is written, before the snapshot is committed as an image',
  'launcher.install.committed': 'the image is committed',
  'launcher.activate.checked-out': 'the checkout for the new activation exists, before its activation record is written',
  'launcher.activate.recorded': 'the activation record is written, before any pointer moves',
  'launcher.activate.previous-moved': '`previous` points at the old activation, before `current` moves',
  'launcher.swap.linked': 'the new pointer exists under a temporary name, before the rename that swaps it in',
  'launcher.activate.current-moved': '`current` points at the new activation',
  'tracker.store.disk': 'a registry write is on its way to the disk (a stall here is a slow disk)',
  'tracker.report.before-write': 'a host report is accepted, before it is written',
  'tracker.report.after-write': 'a host report is durable, before the reply',
  'tracker.move.before-write': 'a channel move is checked, before it is written',
  'tracker.move.after-write': 'a channel move is durable, before the reply',
} as const

export type FailpointName = keyof typeof FAILPOINT_NAMES

export interface Failpoints {
  /** Runs the failpoint `name`'s action, if it is on: resolves at once otherwise. */
  hit(name: FailpointName): Promise<void>
}

/** No failpoint on: what every component uses unless a test says otherwise. */
export const NO_FAILPOINTS: Failpoints = { hit: () => Promise.resolve() }

type Action = { kind: 'kill' } | { kind: 'stall'; ms: number } | { kind: 'error' }

/**
 * Failpoints from a spec: `name=action[@n]` joined by `;`, with action one of `kill` (SIGKILL
 * this process once pending I/O, such as an already sent reply, had one turn to leave), `stall(ms)`
 * or `error` (throw), on the n-th hit (default the first). For example
 * `SHOAL_FAILPOINTS='tracker.report.before-write=kill@3'`. Unknown names are a TypeError: a typo
 * must not silently test nothing.
 */
export function parseFailpoints(spec: string, kill: () => void = () => process.kill(process.pid, 'SIGKILL')): Failpoints {
  const on = new Map<string, { action: Action; at: number; hits: number }>()
  for (const part of spec.split(';').map((p) => p.trim()).filter(Boolean)) {
    const m = /^([a-z.-]+)=(kill|error|stall\((\d+)\))(?:@(\d+))?$/.exec(part)
    if (!m) throw new TypeError(`Cannot read failpoint ${JSON.stringify(part)}: write name=kill|error|stall(ms)[@n]`)
    const name = m[1]!
    if (!(name in FAILPOINT_NAMES)) throw new TypeError(`Cannot use failpoint ${name}: there is no such point (see FAILPOINT_NAMES)`)
    const action: Action = m[2] === 'kill' ? { kind: 'kill' } : m[2] === 'error' ? { kind: 'error' } : { kind: 'stall', ms: Number(m[3]) }
    on.set(name, { action, at: m[4] ? Number(m[4]) : 1, hits: 0 })
  }
  if (on.size === 0) return NO_FAILPOINTS
  return {
    async hit(name) {
      const fp = on.get(name)
      if (!fp || ++fp.hits !== fp.at) return
      switch (fp.action.kind) {
        case 'kill':
          setImmediate(kill)
          return new Promise<void>(() => {}) // never goes on: the process dies here
        case 'stall':
          return new Promise<void>((r) => setTimeout(r, (fp.action as { ms: number }).ms))
        case 'error':
          throw new Error(`failpoint ${name}`)
      }
    },
  }
}
