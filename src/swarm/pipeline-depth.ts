/**
 * How many bytes to keep asked of one peer: enough to cover the bandwidth-delay product of the
 * connection, measured rather than configured. A fixed pipeline caps a connection at
 * pipeline / RTT (512 KiB over 30 ms is 17 MB/s, a seventh of a 1 Gbit/s link), which is what held
 * the fleet's tail back across regions (issue 20). The gauge measures what the peer delivered over
 * each sample period and asks for `queueSeconds` of that rate: while queueSeconds exceeds the RTT
 * each sample raises the pipeline (rate = pipeline / RTT, so the next pipeline is queueSeconds /
 * RTT times larger) until the link, not the pipeline, is the limit; a peer that slows down gets
 * a shorter one. Bounded both ways: never under `minBytes`, never over `maxBytes` (the pieces under
 * way hold a piece buffer each). Pure, with the clock passed in, so the simulator runs the same rule.
 */
export interface PipelineGaugeInit {
  /** The pipeline at first and at least (bytes). */
  minBytes: number
  /** The most one peer is asked for at once (bytes). */
  maxBytes: number
  /** Seconds of the measured rate kept asked (must exceed the RTT to grow; default 0.2). */
  queueSeconds?: number
  /** Shortest period a rate is measured over (ms; default 50). */
  sampleMs?: number
}

export interface PipelineGauge {
  /** Bytes to keep asked of the peer now. */
  readonly bytes: number
  /**
   * A request went out at `nowMs`. The first starts the clock: the first sample then spans the
   * round trip too, which is what a pipeline-limited connection delivers (pipeline / RTT).
   */
  asked(nowMs: number): void
  /** `n` bytes arrived from the peer at `nowMs`. */
  received(n: number, nowMs: number): void
}

export function createPipelineGauge(init: PipelineGaugeInit): PipelineGauge {
  const { minBytes, maxBytes, queueSeconds = 0.2, sampleMs = 50 } = init
  let bytes = minBytes
  /** Start of the sample period: the first request, then the end of the last period. */
  let since: number | undefined
  let got = 0
  return {
    get bytes() {
      return bytes
    },
    asked(now) {
      since ??= now
    },
    received(n, now) {
      since ??= now
      got += n
      const elapsed = now - since
      if (elapsed < sampleMs) return
      const rate = (got * 1000) / elapsed
      bytes = Math.min(maxBytes, Math.max(minBytes, Math.round(rate * queueSeconds)))
      since = now
      got = 0
    },
  }
}
