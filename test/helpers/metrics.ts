/**
 * Reading one sample from a Prometheus text page (what the tracker, seeder and fetcher serve at
 * /metrics): the tests and benches that check counters share this instead of each its own regex.
 */

/** The value of the unlabelled sample `name` in `text`, or NaN when the page has none. */
export function metricValue(text: string, name: string): number {
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text)
  return m ? Number(m[1]) : NaN
}

/** Fetches `url` (a /metrics page) and reads the sample `name` from it. */
export async function fetchMetric(url: string, name: string): Promise<number> {
  return metricValue(await (await fetch(url)).text(), name)
}
