import { describe, expect, it } from 'vitest'
import { createMessageFramer, type MessageFramerInit } from '../../src/swarm/index.js'

const msg = (id: number, body: number[]) => [0, 0, (body.length + 1) >> 8, (body.length + 1) & 0xff, id, ...body]
const u32 = (n: number) => [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]
const pieceMsg = (index: number, offset: number, block: number[]) => msg(7, [...u32(index), ...u32(offset), ...block])
const hs = Array.from({ length: 68 }, (_, i) => i)

/** A framer whose output is collected: whole-message runs as arrays, streamed blocks as `block i@o`. */
function collect(init: Partial<MessageFramerInit> = {}) {
  const out: (number[] | string)[] = []
  const f = createMessageFramer({ maxMessageBytes: 1024, messages: (b) => out.push([...b]), ...init })
  return { f, out }
}

describe('createMessageFramer()', () => {
  const cases: { name: string; chunks: number[][]; out: number[][] }[] = [
    { name: 'a handshake passes through as it comes', chunks: [hs.slice(0, 10), hs.slice(10)], out: [hs.slice(0, 10), hs.slice(10)] },
    { name: 'handshake and a message in one chunk come out in order', chunks: [[...hs, ...msg(1, [])]], out: [hs, msg(1, [])] },
    { name: 'a message split in three is released once, whole', chunks: [hs, [0, 0], [0, 3, 4, 0], [7]], out: [hs, [0, 0, 0, 3, 4, 0, 7]] },
    { name: 'two messages and a half: the half waits', chunks: [hs, [...msg(0, []), ...msg(4, [0, 0, 0, 9]), 0, 0]], out: [hs, [...msg(0, []), ...msg(4, [0, 0, 0, 9])]] },
    { name: 'keep-alives (length 0) are messages too', chunks: [hs, [0, 0, 0, 0, 0, 0]], out: [hs, [0, 0, 0, 0]] },
  ]
  for (const c of cases) {
    for (const transient of [false, true]) {
      it(`push() ${c.name}${transient ? ' (transient chunks)' : ''}`, () => {
        const { f, out } = collect({ transient })
        // A transient caller reuses its buffer: scribble over each chunk once pushed.
        for (const ch of c.chunks) {
          const b = Uint8Array.from(ch)
          f.push(b)
          if (transient) b.fill(0xee)
        }
        expect(out).toEqual(c.out)
      })
    }
  }

  it('push() refuses a length prefix over the limit before buffering its body', () => {
    const { f } = collect({ maxMessageBytes: 1 << 20 })
    f.push(Uint8Array.from(hs))
    expect(() => f.push(Uint8Array.from([0xff, 0xff, 0xff, 0xff]))).toThrow(expect.objectContaining({ code: 'PEER_PROTOCOL_VIOLATION' }))
  })

  it('push() returns every byte exactly once for any split of a message stream, transient or not', () => {
    const stream = [...hs]
    for (let k = 0; k < 50; k++) stream.push(...msg(7, Array.from({ length: (k * 37) % 300 }, (_, i) => (i + k) & 0xff)))
    for (const transient of [false, true]) {
      for (const step of [1, 3, 64, 1000]) {
        const { f, out } = collect({ maxMessageBytes: 1 << 16, transient })
        for (let at = 0; at < stream.length; at += step) {
          const b = Uint8Array.from(stream.slice(at, at + step))
          f.push(b)
          if (transient) b.fill(0xee)
        }
        expect(out.flat()).toEqual(stream)
      }
    }
  })

  it('blocks asked for go straight to their target, in order with the messages around them, for any split', () => {
    const blockA = Array.from({ length: 300 }, (_, i) => (i * 7) & 0xff)
    const blockB = Array.from({ length: 40 }, (_, i) => (i * 3 + 1) & 0xff)
    const stream = [...hs, ...msg(1, []), ...pieceMsg(2, 512, blockA), ...msg(4, u32(9)), ...pieceMsg(3, 0, blockB), ...pieceMsg(5, 0, [1, 2, 3, 4, 5]), ...msg(0, [])]
    for (const transient of [false, true]) {
      for (const step of [1, 5, 13, 14, 64, 1000]) {
        const targets = new Map([['2@512', new Uint8Array(300)], ['3@0', new Uint8Array(40)]])
        const asked: string[] = []
        const { f, out } = collect({
          transient,
          blocks: {
            target: (i, o, len) => {
              asked.push(`${i}@${o}:${len}`)
              return targets.get(`${i}@${o}`)
            },
            arrived: (i, o, b) => out.push(`block ${i}@${o} ${b === targets.get(`${i}@${o}`)}`),
          },
        })
        for (let at = 0; at < stream.length; at += step) {
          const b = Uint8Array.from(stream.slice(at, at + step))
          f.push(b)
          if (transient) b.fill(0xee)
        }
        // Each piece message is offered once; the one refused (5) goes to the codec whole.
        expect(asked).toEqual(['2@512:300', '3@0:40', '5@0:5'])
        expect(out.filter((x) => typeof x === 'string')).toEqual(['block 2@512 true', 'block 3@0 true'])
        expect([...targets.get('2@512')!]).toEqual(blockA)
        expect([...targets.get('3@0')!]).toEqual(blockB)
        // Everything else, in order: handshake, unchoke, [block], have, [block], piece 5 whole, choke.
        const rest = out.map((x) => (typeof x === 'string' ? x : x.join(','))).join('|')
        expect(rest.replace(/\|/g, ',').split(',block').length).toBe(3)
        const bytes = out.flatMap((x) => (typeof x === 'string' ? [] : x))
        expect(bytes).toEqual([...hs, ...msg(1, []), ...msg(4, u32(9)), ...pieceMsg(5, 0, [1, 2, 3, 4, 5]), ...msg(0, [])])
        const order = out.map((x) => (typeof x === 'string' ? x.split(' ')[1] : 'm'))
        expect(order.indexOf('2@512')).toBeLessThan(order.indexOf('3@0'))
      }
    }
  })

  it('a target of the wrong length is not used: the message goes to the codec whole', () => {
    const { f, out } = collect({ blocks: { target: () => new Uint8Array(3), arrived: () => out.push('block') } })
    f.push(Uint8Array.from([...hs, ...pieceMsg(1, 0, [9, 9, 9, 9])]))
    expect(out).toEqual([hs, pieceMsg(1, 0, [9, 9, 9, 9])])
  })
})
