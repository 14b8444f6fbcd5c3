/**
 * How many bytes to keep asked of one peer: about twice the connection's bandwidth-delay product,
 * measured rather than configured. A fixed pipeline caps a connection at pipeline / RTT (512 KiB
 * over 30 ms is 17 MB/s, a seventh of a 1 Gbit/s link): what held the fleet's tail back across
 * regions (issue 20). A deep fixed one costs too: pieces wait in a busy peer's queue that other
 * peers could have sent (the simulator's 300 hosts in one region: last host 1.24x T_min with
 * 512 KiB, 1.52x with 16 MiB).
 *
 * Per sample period the gauge takes the rate the peer delivered and the shortest request-to-block
 * latency seen (the round trip without queueing), and asks for `headroom` times their product.
 * The rate is over the time the link had an answered request under way (each answer covers the
 * time since it was asked), not over the clock: a link the picker uses now and then (a far peer,
 * asked only for what no nearer one holds) would otherwise count its idle gaps as slowness and
 * never grow past its floor (the simulator's 1,000 hosts: the median far link stayed at 512 KiB,
 * each 1 MiB piece over it taking two round trips).
 * While the pipeline is the limit the rate is pipeline / latency, so the next pipeline is about
 * `headroom` times larger (a doubling per period, like TCP's slow start) until the link is the
 * limit; once requests queue at the peer (latency above headroom x the shortest) it shrinks.
 * Bounded both ways: never under `minBytes`, never over `maxBytes` (the pieces under way hold a
 * piece buffer each). Pure, with the clock passed in, so the simulator runs the same rule.
 */
export interface PipelineGaugeInit {
  /** The pipeline at first and at least (bytes). */
  minBytes: number
  /** The most one peer is asked for at once (bytes). */
  maxBytes: number
  /** Bandwidth-delay products kept asked (default 2). */
  headroom?: number
  /** Shortest period a rate is measured over (ms; default 50). */
  sampleMs?: number
}

export interface PipelineGauge {
  /** Bytes to keep asked of the peer now. */
  readonly bytes: number
  /** The shortest request-to-answer time seen (ms; Infinity before the first). */
  readonly latencyMs: number
  /** `n` bytes arrived at `nowMs` in answer to a request sent `latencyMs` before. */
  received(n: number, nowMs: number, latencyMs: number): void
}

export function createPipelineGauge(init: PipelineGaugeInit): PipelineGauge {
  const { minBytes, maxBytes, headroom = 2, sampleMs = 50 } = init
  let bytes = minBytes
  let minLatency = Infinity
  /** The period's time covered by answered requests (ms), and the end of what is covered. */
  let busy = 0
  let coveredUntil = -Infinity
  let got = 0
  return {
    get bytes() {
      return bytes
    },
    get latencyMs() {
      return minLatency
    },
    received(n, now, latency) {
      const askedAt = now - Math.max(0, latency)
      busy += Math.max(0, now - Math.max(askedAt, coveredUntil))
      coveredUntil = Math.max(coveredUntil, now)
      got += n
      if (latency >= 0 && latency < minLatency) minLatency = latency
      if (busy < sampleMs) return
      const rate = got / busy // bytes per ms
      bytes = Math.min(maxBytes, Math.max(minBytes, Math.round(rate * minLatency * headroom)))
      busy = 0
      got = 0
    },
  }
}

/**
 * The engine's bounds for a torrent: the floor is the configured pipeline or one whole piece,
 * whichever is more (at most the ceiling); the ceiling is `maxBytes` (default 16 MiB) or the
 * configured pipeline if that is more. A floor of a piece keeps the same two pieces under way per
 * peer (the depth is whole pieces: ceil(bytes / piece) + 1) but asks each of them at once.
 */
export function pipelineBounds(pipelineBytes: number, pieceLength: number, maxBytes = 16 << 20): PipelineGaugeInit {
  const ceiling = Math.max(pipelineBytes, maxBytes)
  return { minBytes: Math.min(ceiling, Math.max(pipelineBytes, pieceLength)), maxBytes: ceiling }
}

/** One gauge per peer (made on first use, forgotten with the peer), all with the same bounds. */
export function pipelineGauges<Peer extends object>(init: PipelineGaugeInit): (peer: Peer) => PipelineGauge {
  const gauges = new WeakMap<Peer, PipelineGauge>()
  return (peer) => {
    let g = gauges.get(peer)
    if (!g) gauges.set(peer, (g = createPipelineGauge(init)))
    return g
  }
}
