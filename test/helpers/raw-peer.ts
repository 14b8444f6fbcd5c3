import { connect, type Socket } from 'node:net'
import Wire from 'bittorrent-protocol'

/**
 * A bare BitTorrent peer over TCP, driven by hand: the tests that send what no Shoal node would
 * (an oversized request, thousands of requests, a paused reader) use it against a real node. The
 * handshake is sent at once; `onHandshake` runs when the node answers it (e.g. to say interested).
 */
export function rawPeer(port: number, infoHash: string, onHandshake: (wire: Wire) => void = (w) => w.interested()): { socket: Socket; wire: Wire } {
  const socket = connect({ host: '127.0.0.1', port })
  socket.on('error', () => {})
  const wire = new Wire('tcpOutgoing')
  socket.pipe(wire).pipe(socket)
  wire.once('handshake', () => onHandshake(wire))
  wire.handshake(infoHash, Buffer.from('-XX0001-abcdefghijkl'))
  return { socket, wire }
}
