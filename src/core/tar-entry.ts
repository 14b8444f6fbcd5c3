import type { Writable } from 'node:stream'
import type tar from 'tar-stream'

/** Adds a whole entry (a body in memory, or none) to a tar-stream pack. */
export function addTarEntry(pack: tar.Pack, header: tar.Header, body?: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (err?: Error | null): void => (err ? reject(err) : resolve())
    if (body) pack.entry(header, body, done)
    // Entries without a body (directories, symlinks) complete only once ended.
    else (pack.entry(header, done) as unknown as Writable).end()
  })
}

/**
 * Opens a streaming entry: write its body into `sink` (respecting `write()`'s backpressure),
 * end it, then await `done`.
 */
export function openTarEntry(pack: tar.Pack, header: tar.Header): { sink: Writable; done: Promise<void> } {
  let sink!: Writable
  const done = new Promise<void>((resolve, reject) => {
    sink = pack.entry(header, (err) => (err ? reject(err) : resolve())) as unknown as Writable
  })
  done.catch(() => {})
  // The entry's failure reaches the caller through `done`; without a listener, streamx would
  // also raise it as an uncaught 'error' event when the pack is destroyed.
  sink.on('error', () => {})
  return { sink, done }
}

/** Writes `chunk` and waits for 'drain' when the sink asks for it. */
export async function writeWithBackpressure(sink: Writable, chunk: Buffer): Promise<void> {
  if (!sink.write(chunk)) await new Promise((resolve) => sink.once('drain', resolve))
}
