import { describe, expect, it } from 'vitest'
import { createMessageFramer } from '../../src/swarm/index.js'

const msg = (id: number, body: number[]) => [0, 0, (body.length + 1) >> 8, (body.length + 1) & 0xff, id, ...body]
const hs = Array.from({ length: 68 }, (_, i) => i)

describe('createMessageFramer()', () => {
  const cases: { name: string; chunks: number[][]; out: number[][] }[] = [
    { name: 'a handshake passes through as it comes', chunks: [hs.slice(0, 10), hs.slice(10)], out: [hs.slice(0, 10), hs.slice(10)] },
    { name: 'handshake and a message in one chunk come out together', chunks: [[...hs, ...msg(1, [])]], out: [[...hs, ...msg(1, [])]] },
    { name: 'a message split in three is released once, whole', chunks: [hs, [0, 0], [0, 3, 4, 0], [7]], out: [hs, [0, 0, 0, 3, 4, 0, 7]] },
    { name: 'two messages and a half: the half waits', chunks: [hs, [...msg(0, []), ...msg(4, [0, 0, 0, 9]), 0, 0]], out: [hs, [...msg(0, []), ...msg(4, [0, 0, 0, 9])]] },
    { name: 'keep-alives (length 0) are messages too', chunks: [hs, [0, 0, 0, 0, 0, 0]], out: [hs, [0, 0, 0, 0]] },
  ]
  for (const c of cases) {
    it(`push() ${c.name}`, () => {
      const f = createMessageFramer({ maxMessageBytes: 1024 })
      const got = c.chunks.map((ch) => f.push(Uint8Array.from(ch))).filter((x) => x !== undefined).map((x) => [...x!])
      expect(got).toEqual(c.out)
    })
  }

  it('push() refuses a length prefix over the limit before buffering its body', () => {
    const f = createMessageFramer({ maxMessageBytes: 1 << 20 })
    f.push(Uint8Array.from(hs))
    expect(() => f.push(Uint8Array.from([0xff, 0xff, 0xff, 0xff]))).toThrow(expect.objectContaining({ code: 'PEER_PROTOCOL_VIOLATION' }))
  })

  it('push() returns every byte exactly once for any split of a message stream', () => {
    const stream = [...hs]
    for (let k = 0; k < 50; k++) stream.push(...msg(7, Array.from({ length: (k * 37) % 300 }, (_, i) => (i + k) & 0xff)))
    for (const step of [1, 3, 64, 1000]) {
      const f = createMessageFramer({ maxMessageBytes: 1 << 16 })
      const out: number[] = []
      for (let at = 0; at < stream.length; at += step) {
        const r = f.push(Uint8Array.from(stream.slice(at, at + step)))
        if (r) out.push(...r)
      }
      expect(out).toEqual(stream)
    }
  })
})
