/**
 * What seeders and caches must keep: every bundle a channel points at, plus the newest `keep`
 * versions of each release (by publish time), so a rollback never waits for a rebuild. Pure.
 */
export function retentionSet(channels: readonly { digest: string }[], versions: readonly { release: string; digest: string; publishedAt: string }[], keep: number): string[] {
  const digests = new Set<string>(channels.map((c) => c.digest))
  const byRelease = new Map<string, { digest: string; publishedAt: string }[]>()
  for (const v of versions) {
    const list = byRelease.get(v.release) ?? []
    list.push(v)
    byRelease.set(v.release, list)
  }
  for (const list of byRelease.values()) {
    list.sort((a, b) => (a.publishedAt < b.publishedAt ? 1 : a.publishedAt > b.publishedAt ? -1 : 0))
    for (const v of list.slice(0, keep)) digests.add(v.digest)
  }
  return [...digests].sort()
}
