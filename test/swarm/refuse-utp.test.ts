import { createSocket } from 'node:dgram'
import { once } from 'node:events'
import { afterEach, describe, expect, it } from 'vitest'
import { createSwarmNode, type SwarmNode } from '../../src/swarm/index.js'
import { utpResetFor } from '../../src/swarm/refuse-utp.js'
import { freePort } from '../helpers/free-port.js'

/** A uTP ST_SYN (BEP 29) as libtorrent or libutp sends it. */
function syn(connId: number, seq: number): Buffer {
  const b = Buffer.alloc(20)
  b[0] = 0x41 // ST_SYN, version 1
  b.writeUInt16BE(connId, 2)
  b.writeUInt32BE(123456, 4)
  b.writeUInt32BE(1 << 20, 12)
  b.writeUInt16BE(seq, 16)
  return b
}

const nodes: SwarmNode[] = []
const closers: Array<() => void> = []
afterEach(async () => {
  for (const c of closers.splice(0)) c()
  for (const n of nodes.splice(0)) await n.stop()
})

describe('refusing uTP (Shoal speaks TCP only)', () => {
  it('utpResetFor() answers a SYN with a reset on its connection id acknowledging its sequence number, and nothing else', () => {
    const reset = utpResetFor(syn(0xbeef, 0x1234), () => 0.5)!
    expect(reset).toHaveLength(20)
    expect(reset[0]).toBe(0x31) // ST_RESET, version 1
    expect(reset.readUInt16BE(2)).toBe(0xbeef)
    expect(reset.readUInt16BE(18)).toBe(0x1234)
    const data = syn(1, 1)
    data[0] = 0x01 // ST_DATA
    expect(utpResetFor(data)).toBeUndefined()
    expect(utpResetFor(syn(1, 1).subarray(0, 19))).toBeUndefined()
    const v2 = syn(1, 1)
    v2[0] = 0x42
    expect(utpResetFor(v2)).toBeUndefined()
  })

  it('a node answers a uTP SYN on its peer port with a reset at once, so clients go to TCP without waiting', async () => {
    const node = createSwarmNode({ role: 'origin', listenHost: '127.0.0.1' })
    nodes.push(node)
    await node.start()
    const client = createSocket('udp4')
    closers.push(() => client.close())
    client.bind(0, '127.0.0.1')
    await once(client, 'listening')
    const got = once(client, 'message', { signal: AbortSignal.timeout(5_000) })
    client.send(syn(77, 900), node.port, '127.0.0.1')
    const [msg] = (await got) as [Buffer]
    expect(msg[0]! >> 4).toBe(3)
    expect(msg.readUInt16BE(2)).toBe(77)
    expect(msg.readUInt16BE(18)).toBe(900)
  })

  it('a node whose UDP port is taken still starts (it only cannot refuse uTP there)', async () => {
    const port = await freePort()
    const squatter = createSocket('udp4')
    closers.push(() => squatter.close())
    squatter.bind(port, '127.0.0.1')
    await once(squatter, 'listening')
    const node = createSwarmNode({ role: 'host', port, listenHost: '127.0.0.1' })
    nodes.push(node)
    await node.start()
    expect(node.port).toBe(port)
  })
})
