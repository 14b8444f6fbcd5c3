/**
 * A discrete-event simulation of one rollout over a modelled fleet, driving the production swarm
 * code: each host's piece choice is `choosePiece` over its own `createPieceScheduler` and
 * `createNearAvailability` (what the fetcher runs), the origin reveals pieces with
 * `createSuperSeed` (what the seeder runs), and hosts learn peers from the tracker's
 * `createSwarmStore` answering announces that carry the same peer ids the fetcher makes.
 *
 * What is modelled, and how (see README "Fleet simulator" for the limits):
 * - Each host has an upload and a download rate split into `slots` equal slots; a piece moves
 *   over one upload slot of the sender and one download slot of the receiver at the slot rate,
 *   further capped by the per-connection pipeline (pipelineBytes / RTT), taking size / rate plus
 *   half an RTT. A piece the pipeline caps holds only that share of a slot at each end (and of
 *   the rack links), so the rest of the link carries other pieces, as TCP would share it; until
 *   2026-12-01 it held a whole slot, and a far link's small pipeline idled three quarters of a
 *   slot at both ends (`--whole-slots` keeps that model). (The engine keeps every peer's pipeline
 *   full and lets TCP share the links; slots stand in for that sharing without recomputing every
 *   flow's rate on every event.)
 * - Racks of `hostsPerRack` hosts, `racksPerRegion` racks per region; a rack's uplink and
 *   downlink carry hostsPerRack * slots / oversubscription slots, which a piece crossing racks
 *   holds at both ends. RTTs by distance: same rack, same region, other region.
 * - The origin sits in a rack of its own and, like the seeder, has no locality in its peer id.
 * - Hosts join at time 0 in random order (or late, within a window) after `startMs`; some may
 *   fail at a random time (their transfers are lost, their peers forget them).
 * - Not modelled: TCP slow start and loss, CPU, disk, tracker re-announce intervals beyond the
 *   first announce and the engine's 5 s re-announce of hosts with fewer than 4 peers, web seeds,
 *   choking (the engine has none).
 */
import { distanceBetween, isRackMember, makeLocalPeerId, peerKey, tagOfPeerId, type Distance } from '../../src/core/index.js'
import { admitPeer, choosePiece, createNearAvailability, createPieceScheduler, createPipelineGauge, createSuperSeed, pipelineBounds, type NearAvailability, type PieceScheduler, type PipelineGauge, type SuperSeed } from '../../src/swarm/index.js'
import { pieceLengthFor } from '../../src/seeder/bundle-store.js'
import { createSwarmStore, type AnnounceParams } from '../../src/tracker/swarm-store.js'

export interface SimConfig {
  hosts: number
  sizeBytes: number
  /** Default: what the seeder picks for the size (pieceLengthFor). */
  pieceLength?: number
  /** Host link rate each way, bits per second. */
  rateBps: number
  /** Origin uplink, bits per second (default rateBps). */
  originRateBps?: number
  /**
   * Payload bytes per byte a link carries (default 1). bench:fleet's links are tc tbf limits,
   * which count each packet whole: 1,448 bytes of TCP payload per 1,514-byte frame (0.956). Rates
   * are scaled by it; T_min and every ratio stay S over the nominal rate, as bench:fleet reports.
   */
  wireEfficiency?: number
  /** Hosts' rates drawn uniformly from rate * [1 - spread, 1 + spread] (default 0). */
  rateSpread?: number
  slots?: number
  hostsPerRack?: number
  racksPerRegion?: number
  /** Rack uplink oversubscription (4 means 4:1); 0 models no rack links. */
  oversubscription?: number
  rttMs?: { rack: number; region: number; far: number }
  /** 'aware': hosts carry rack/region in their peer ids (labels set); 'none': no labels. */
  topology?: 'aware' | 'none'
  numwant?: number
  maxConns?: number
  originMaxConns?: number
  /** The engine's pipeline per connection at first and at least (default 512 KiB; one piece if that is more, as the engine does). */
  pipelineBytes?: number
  /** The most it grows to with the measured rate (default 16 MiB; = pipelineBytes fixes it). */
  maxPipelineBytes?: number
  /** The gauge's sample period and headroom (defaults: the engine's). */
  gauge?: { sampleMs?: number; headroom?: number }
  /** A piece holds a whole slot however slowly its pipeline lets it move (the model before 2026-12-01). */
  wholeSlots?: boolean
  /** Links that keep the largest pipeline from the start instead of measuring it. */
  fixedPipeline?: 'near' | 'far'
  /** Delay from the channel move to a host's first announce (ms). */
  startMs?: number
  /** Share of hosts joining late, uniformly within lateWindowS after the start. */
  lateFraction?: number
  lateWindowS?: number
  /** Share of hosts that fail at a uniform time within the first T_min. */
  failFraction?: number
  seed?: number
  /** Called about every `progressEvery` events. */
  onProgress?: (p: { simTime: number; done: number; hosts: number; events: number }) => void
}

export interface SimResult {
  hosts: number
  pieces: number
  pieceLength: number
  tMin: number
  /** Per completed host: (done - joined) / its own T_min, ascending. */
  ratios: number[]
  completed: number
  failed: number
  /** Hosts neither done nor failed when the simulation ran out of events (a stall: should be 0). */
  stuck: number
  originBytes: number
  crossRackBytes: number
  /** Racks holding hosts: the minimum cross-rack traffic is racks * S (the origin has its own rack). */
  racks: number
  lastDoneS: number
  /** Per host (by index): when it held the whole bundle (s; Infinity if never), and its rack. */
  doneAt: number[]
  rackOf: number[]
  events: number
  /** choosePiece calls, and those that found nothing. */
  picks: number
  emptyPicks: number
  wallMs: number
}

const mulberry32 = (seed: number): (() => number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

interface Node {
  idx: number
  origin: boolean
  rack: number
  region: number
  rate: number // bytes per second, each way
  upFree: number
  downFree: number
  have: Uint8Array
  /** The pieces in `have`, in the order they arrived (a bitfield's bits without scanning every piece). */
  held: number[]
  sched: PieceScheduler
  near: NearAvailability
  conns: Conn[]
  /** The connection to the origin, if any. */
  originConn?: Conn
  byPeer: Map<number, Conn>
  /** Requests under way on all connections. */
  outstanding: number
  /** Pieces requested, with the connections asked (two in the end game). */
  asked: Map<number, Conn[]>
  joinedAt: number
  doneAt: number
  failed: boolean
  tag: string
  peerId: string
}

/** One direction of a connection: `self` downloads from `peer`. */
interface Conn {
  self: Node
  peer: Node
  rev: Conn
  distance: Distance
  rtt: number
  /** Pieces `peer` holds (as `self` sees it) that `self` lacks. */
  wants: number
  /** A pick found nothing allowed; picked again once the peer announces something new. */
  stale: boolean
  /** The engine's pipeline to this peer (grows with the rate the connection delivers). */
  gauge: PipelineGauge
  /** Pieces kept asked of the peer: ceil(gauge / piece) + 1, updated when the gauge moves. */
  depth: number
  /** Pieces asked of the peer (queued at it or moving), at most c.depth (the engine's pipeline). */
  requested: Set<number>
  /** When each requested piece was asked (s). */
  askedAt: Map<number, number>
  /** Asked and not yet moving, in order. */
  queue: number[]
  moving: Xfer[]
  /** The origin's reveals to `self` (only on a connection to the origin). */
  shown?: Uint8Array
  has(i: number): boolean
  /** What has() reads: the origin's reveals to `self`, or the peer's pieces (1 = held). */
  bits: Uint8Array
  /** The peer's pieces as a list (undefined for the origin, which shows pieces instead). */
  held: number[] | undefined
  origin: boolean
  /** The peer's peerKey when it is a rack peer stating its locality (as the engine decides). */
  rackKey?: number
}

interface Xfer {
  conn: Conn
  piece: number
  start: number
  end: number
  bytes: number
  cross: boolean
  /** The share of a slot it holds at the sender, the receiver and the rack links. */
  up: number
  down: number
  link: number
  /** Every byte has left the sender (slots freed); it lands half an RTT later. */
  sent: boolean
  cancelled: boolean
}

type Event = { t: number; seq: number; kind: 0 | 1 | 2 | 3 | 4; x?: Xfer; node?: Node; from?: Node }

class Heap {
  private a: Event[] = []
  private less(i: number, j: number): boolean {
    const x = this.a[i]!
    const y = this.a[j]!
    return x.t < y.t || (x.t === y.t && x.seq < y.seq)
  }
  push(e: Event): void {
    const a = this.a
    a.push(e)
    let i = a.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if (!this.less(i, p)) break
      ;[a[i], a[p]] = [a[p]!, a[i]!]
      i = p
    }
  }
  pop(): Event | undefined {
    const a = this.a
    const top = a[0]
    const last = a.pop()
    if (a.length > 0 && last) {
      a[0] = last
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        const r = l + 1
        let m = i
        if (l < a.length && this.less(l, m)) m = l
        if (r < a.length && this.less(r, m)) m = r
        if (m === i) break
        ;[a[i], a[m]] = [a[m]!, a[i]!]
        i = m
      }
    }
    return top
  }
}

const JOIN = 0
const SENT = 1
const CONNECT = 2
const FAIL = 3
const ARRIVE = 4

export function simulate(cfg: SimConfig): SimResult {
  const wall0 = performance.now()
  const random = mulberry32(cfg.seed ?? 1)
  const N = cfg.hosts
  const S = cfg.sizeBytes
  const pieceLength = cfg.pieceLength ?? pieceLengthFor(S)
  const P = Math.ceil(S / pieceLength)
  const sizeOf = (i: number): number => (i === P - 1 ? S - pieceLength * (P - 1) : pieceLength)
  const slots = cfg.slots ?? 4
  const wholeSlots = cfg.wholeSlots ?? false
  const hostsPerRack = cfg.hostsPerRack ?? 40
  const racksPerRegion = cfg.racksPerRegion ?? 10
  const oversub = cfg.oversubscription ?? 4
  const rtt = cfg.rttMs ?? { rack: 0.1, region: 0.5, far: 30 }
  const aware = (cfg.topology ?? 'aware') === 'aware'
  const numwant = cfg.numwant ?? 50
  const maxConns = cfg.maxConns ?? 50
  const originMaxConns = cfg.originMaxConns ?? 200
  // The engine's pipeline bounds (the downloader's): a floor of the configured pipeline or one
  // piece, whichever is more; whole pieces asked of one peer at once (create-swarm-node fill()).
  const bounds = pipelineBounds(cfg.pipelineBytes ?? 512 << 10, pieceLength, cfg.maxPipelineBytes ?? 16 << 20)
  const depthOf = (g: PipelineGauge): number => Math.ceil(g.bytes / pieceLength) + 1
  // Rates in payload bytes: a link's rate counts headers too (T_min does not: S over the rate).
  const eff = cfg.wireEfficiency ?? 1
  const nominal = cfg.rateBps / 8
  const rate = nominal * eff
  const spread = cfg.rateSpread ?? 0
  const tMin = S / nominal

  const tracker = createSwarmStore({ random, now: () => 0 })
  const infoHash = 'ab'.repeat(20)
  const heap = new Heap()
  let seq = 0
  let now = 0
  const at = (t: number, kind: Event['kind'], x?: Xfer, node?: Node, from?: Node): void => heap.push({ t, seq: seq++, kind, x, node, from })

  // Racks 0..R-1 hold hosts; rack R is the origin's own.
  const hostRacks = Math.ceil(N / hostsPerRack)
  const linkSlots = oversub > 0 ? Math.max(1, Math.floor((hostsPerRack * slots) / oversub)) : Infinity
  const upLink = new Float64Array(hostRacks + 1).fill(linkSlots)
  const downLink = new Float64Array(hostRacks + 1).fill(linkSlots)
  /** Senders that found a rack link full, pumped again when a slot on it frees. */
  const linkWaiters: Set<Node>[] = Array.from({ length: hostRacks + 1 }, () => new Set())

  const makeNode = (idx: number, origin: boolean, rack: number, region: number, r: number): Node => {
    const locality = origin || !aware ? {} : { region: `region-${region}`, rack: `rack-${rack}` }
    const bytes = Buffer.alloc(6)
    for (let k = 0; k < 6; k++) bytes[k] = Math.floor(random() * 256)
    const peerId = makeLocalPeerId(origin ? '-SO0100-' : '-SH0100-', locality, bytes).toString('hex')
    return {
      idx,
      origin,
      rack,
      region,
      rate: r,
      upFree: slots,
      downFree: origin ? 0 : slots,
      have: new Uint8Array(P).fill(origin ? 1 : 0),
      held: origin ? Array.from({ length: P }, (_, i) => i) : [],
      sched: createPieceScheduler({ pieceCount: P, random, onAvailability: origin ? (i) => superSeed.recount(i) : undefined }),
      near: createNearAvailability(P, !origin && aware ? peerKey(peerId) : undefined),
      conns: [],
      byPeer: new Map(),
      outstanding: 0,
      asked: new Map(),
      joinedAt: Infinity,
      doneAt: origin ? 0 : Infinity,
      failed: false,
      tag: tagOfPeerId(peerId),
      peerId,
    }
  }

  // The seeder's reveal window (create-swarm-node): about 512 KiB per peer, at least 2 pieces.
  const superSeed: SuperSeed = createSuperSeed({ pieceCount: P, random, window: Math.max(2, Math.ceil((512 << 10) / pieceLength)), availability: (i) => origin.sched.availability(i) })
  const hosts: Node[] = []
  for (let h = 0; h < N; h++) {
    const rack = Math.floor(h / hostsPerRack)
    const r = rate * (1 + spread * (2 * random() - 1))
    hosts.push(makeNode(h, false, rack, Math.floor(rack / racksPerRegion), r))
  }
  const origin = makeNode(N, true, hostRacks, 0, ((cfg.originRateBps ?? cfg.rateBps) / 8) * eff)
  for (let i = 0; i < P; i++) origin.sched.markHave(i)
  const all = [...hosts, origin]
  const ipOf = (n: Node): string => `10.${(n.idx + 1) >> 16}.${((n.idx + 1) >> 8) & 255}.${(n.idx + 1) & 255}`
  const nodeOfCompact = (c: Buffer): Node => all[((c[1]! << 16) | (c[2]! << 8) | c[3]!) - 1]!
  const rttBetween = (a: Node, b: Node): number => (a.rack === b.rack ? rtt.rack : a.region === b.region ? rtt.region : rtt.far) / 1000

  let originBytes = 0
  let crossRackBytes = 0
  let done = 0
  let failed = 0
  let events = 0
  let picks = 0
  let emptyPicks = 0

  // ---- the origin's reveals (BEP 16) ------------------------------------------------------------
  const reveal = (c: Conn): void => {
    const host = c.self
    const shown = c.shown!
    for (const i of superSeed.reveal(host.peerId, (j) => host.have[j] === 1)) {
      if (shown[i]) continue
      shown[i] = 1
      host.sched.addAvailability(i)
      if (!host.have[i]) {
        c.wants++
        c.stale = false
      }
    }
  }

  // ---- connections ------------------------------------------------------------------------------
  const makeConn = (self: Node, peer: Node, d: Distance, r: number): Conn => {
    const shown = peer.origin ? new Uint8Array(P) : undefined
    const bits = shown ?? peer.have
    // --fixed-pipeline near|far: those links keep the largest pipeline from the start (a probe of
    // which links' pipelines hold the tail back; far = the 30 ms links between regions).
    const fixed = cfg.fixedPipeline === (self.region !== peer.region ? 'far' : 'near')
    const gauge = createPipelineGauge(fixed ? { minBytes: bounds.maxBytes, maxBytes: bounds.maxBytes } : { ...cfg.gauge, ...bounds })
    return {
      self,
      peer,
      rev: undefined as unknown as Conn,
      distance: d,
      rtt: r,
      wants: 0,
      stale: false,
      gauge,
      depth: depthOf(gauge),
      requested: new Set(),
      askedAt: new Map(),
      queue: [],
      moving: [],
      shown,
      origin: peer.origin,
      rackKey: isRackMember(self.tag, peer.tag) ? peerKey(peer.peerId) : undefined,
      has: (i: number) => bits[i] === 1,
      bits,
      // A host's pieces as a list: the picker looks there when it is shorter than the rarest class.
      held: shown ? undefined : peer.held,
    }
  }

  const connect = (a: Node, b: Node): void => {
    if (a.byPeer.has(b.idx) || a.failed || b.failed) return
    const d = distanceBetween(a.tag, b.tag)
    const rackMember = isRackMember(a.tag, b.tag)
    // Both ends decide as the engine's attach() does.
    for (const [x, y] of [
      [a, b],
      [b, a],
    ] as const) {
      if (!admitPeer({ total: x.conns.length, rack: x.near.rackPeers }, { rackMember, distance: d, origin: y.origin }, x.origin ? originMaxConns : maxConns)) return
    }
    const r = rttBetween(a, b)
    const ab = makeConn(a, b, d, r)
    const ba = makeConn(b, a, d, r)
    ab.rev = ba
    ba.rev = ab
    for (const [self, c] of [
      [a, ab],
      [b, ba],
    ] as const) {
      self.conns.push(c)
      if (c.origin) self.originConn = c
      self.byPeer.set(c.peer.idx, c)
      if (c.origin) continue // the origin sends no bitfield: it reveals
      // The peer's bitfield, bit by bit (what addPeer does, without a pass over every piece:
      // early in a rollout a bitfield is nearly empty).
      if (self.origin) {
        for (const i of c.peer.held) self.sched.addAvailability(i)
        continue
      }
      if (c.rackKey !== undefined) self.near.rackPeer(c.rackKey, 1)
      let w = 0
      for (const i of c.peer.held) {
        self.sched.addAvailability(i)
        self.near.add(d, i)
        if (!self.have[i]) w++
      }
      c.wants = w
    }
    if (b.origin) reveal(ab)
    if (a.origin) reveal(ba)
    ask(ab)
    ask(ba)
  }

  // ---- requests and transfers --------------------------------------------------------------------
  /** Slot shares are compared with this slack (sums of fractions). */
  const EPS = 1e-9
  const linkOk = (src: Node, dst: Node, share: number): boolean => src.rack === dst.rack || (upLink[src.rack]! >= share - EPS && downLink[dst.rack]! >= share - EPS)

  /** Fill `c`'s pipeline as the engine's fill() does: choosePiece until `depth` pieces are asked. */
  function ask(c: Conn): void {
    const self = c.self
    if (self.origin || self.failed || c.peer.failed) return
    while (c.requested.size < c.depth && c.wants > 0 && !c.stale && self.sched.missing > 0) {
      const piece = choosePiece(self.sched, self.near, c, c.requested, () => self.outstanding === 0)
      picks++
      if (piece === undefined) {
        emptyPicks++
        c.stale = true
        break
      }
      c.requested.add(piece)
      c.askedAt.set(piece, now)
      self.outstanding++
      c.queue.push(piece)
      self.sched.start(piece)
      const list = self.asked.get(piece)
      if (list) list.push(c)
      else self.asked.set(piece, [c])
    }
    if (c.queue.length > 0) tryStart(c)
  }

  /** Start the head of `c`'s queue if the sender, receiver and rack links have room. */
  function tryStart(c: Conn): boolean {
    const dst = c.self
    const src = c.peer
    if (c.queue.length === 0 || src.upFree <= EPS || dst.downFree <= EPS) return false
    const r = Math.min(Math.min(src.rate, dst.rate) / slots, c.gauge.bytes / c.rtt)
    const up = wholeSlots ? 1 : (r * slots) / src.rate
    const down = wholeSlots ? 1 : (r * slots) / dst.rate
    const link = wholeSlots ? 1 : (r * slots) / rate
    if (src.upFree < up - EPS || dst.downFree < down - EPS) return false
    if (!linkOk(src, dst, link)) {
      linkWaiters[upLink[src.rack]! < link - EPS ? src.rack : dst.rack]!.add(src)
      return false
    }
    const piece = c.queue.shift()!
    const bytes = sizeOf(piece)
    const cross = src.rack !== dst.rack
    const x: Xfer = { conn: c, piece, start: now, end: now + bytes / r, bytes, cross, up, down, link, sent: false, cancelled: false }
    src.upFree -= up
    dst.downFree -= down
    if (cross) {
      upLink[src.rack]! -= link
      downLink[dst.rack]! -= link
    }
    c.moving.push(x)
    at(x.end, SENT, x)
    return true
  }

  /** A sender with a free upload slot serves the next queued request among its peers. */
  function pumpUp(src: Node): void {
    const n = src.conns.length
    if (n === 0 || src.upFree <= EPS) return
    const off = Math.floor(random() * n)
    for (let k = 0; k < n && src.upFree > EPS; k++) tryStart(src.conns[(k + off) % n]!.rev)
  }

  /** A receiver with a free download slot takes the next queued piece from a peer that can send. */
  function pumpDown(dst: Node): void {
    const n = dst.conns.length
    if (n === 0 || dst.downFree <= EPS) return
    const off = Math.floor(random() * n)
    for (let k = 0; k < n && dst.downFree > EPS; k++) tryStart(dst.conns[(k + off) % n]!)
  }

  /** Frees the slots and links a transfer held; `bytes` of it crossed the wire. */
  const release = (x: Xfer, bytes: number): void => {
    const src = x.conn.peer
    const dst = x.conn.self
    src.upFree += x.up
    dst.downFree += x.down
    if (src.origin) originBytes += bytes
    if (x.cross) {
      crossRackBytes += bytes
      upLink[src.rack]! += x.link
      downLink[dst.rack]! += x.link
      for (const rack of [src.rack, dst.rack]) {
        const waiters = linkWaiters[rack]!
        if (waiters.size === 0) continue
        const woken = [...waiters]
        waiters.clear()
        for (const h of woken) pumpUp(h)
      }
    }
  }

  /** The request for `piece` on `c` is over (landed, cancelled or lost). */
  const forgetRequest = (c: Conn, piece: number): void => {
    c.requested.delete(piece)
    c.askedAt.delete(piece)
    const self = c.self
    self.outstanding--
    self.sched.finish(piece)
    const list = self.asked.get(piece)
    if (list) {
      list.splice(list.indexOf(c), 1)
      if (list.length === 0) self.asked.delete(piece)
    }
  }

  /** Withdraw the request for `piece` on `c`: dequeue it, or stop it mid-flight. */
  const cancel = (c: Conn, piece: number): void => {
    const q = c.queue.indexOf(piece)
    if (q >= 0) c.queue.splice(q, 1)
    const x = c.moving.find((m) => m.piece === piece)
    if (x && !x.cancelled) {
      x.cancelled = true
      c.moving.splice(c.moving.indexOf(x), 1)
      if (!x.sent) {
        const span = x.end - x.start
        release(x, span > 0 ? Math.min(1, (now - x.start) / span) * x.bytes : 0)
        pumpUp(c.peer)
        pumpDown(c.self)
      }
    }
    forgetRequest(c, piece)
  }

  const received = (x: Xfer): void => {
    const c = x.conn
    const dst = c.self
    const i = x.piece
    c.moving.splice(c.moving.indexOf(x), 1)
    c.gauge.received(x.bytes, now * 1000, (now - (c.askedAt.get(i) ?? x.start)) * 1000)
    c.depth = depthOf(c.gauge)
    forgetRequest(c, i)
    if (!dst.have[i]) {
      dst.have[i] = 1
      dst.held.push(i)
      dst.sched.markHave(i)
      // End-game duplicates of this piece elsewhere are cancelled (BEP 3 cancel).
      const dup = dst.asked.get(i)
      if (dup) for (const other of [...dup]) cancel(other, i)
      for (const k of dst.conns) {
        const peer = k.peer
        const held = k.bits[i] === 1
        if (held) k.wants--
        if (peer.origin) {
          peer.sched.addAvailability(i)
          superSeed.peerHas(dst.peerId, i)
          reveal(k)
          continue
        }
        // A peer that holds the piece already: what the engine counts for it (availability, near
        // copies) is never read again for a piece it holds, so the simulator skips it (the same
        // outcome; the HAVE fan-out to ~50 peers is most of a 10,000-host run's time).
        if (held) continue
        const back = k.rev // the peer downloads from dst
        peer.sched.addAvailability(i)
        peer.near.add(back.distance, i)
        back.wants++
        // A piece asked of the origin and not yet moving is withdrawn once a peer holds it
        // (the engine sends a BEP 3 cancel): the origin's queue only carries rare pieces.
        const o = peer.originConn
        if (o !== undefined && o.requested.has(i) && o.queue.includes(i)) {
          cancel(o, i)
          back.stale = false
        }
        // The engine picks again on every HAVE. A pick that found nothing before can only find
        // something now if the new piece is itself one a pick could return, so skip the scan
        // otherwise (the outcome is the same; it keeps 10,000 hosts tractable). Until
        // 2026-12-01 this let through pieces under way elsewhere outside the end game: 94% of
        // the picks it allowed found nothing (10,000 hosts, the first 0.15 s simulated).
        if (back.requested.size < back.depth && (!back.stale || (!back.requested.has(i) && peer.sched.pickable(i) && peer.near.allows(back.distance, i, peer.outstanding === 0)))) {
          back.stale = false
          ask(back)
        }
      }
      if (dst.sched.missing === 0) {
        dst.doneAt = now
        done++
      }
    }
    // The engine refills a peer's pipeline on every block it receives from it (a pick that found
    // nothing before finds nothing now: the piece that landed only left the candidates), and
    // every peer's once nothing is coming from anyone (choosePiece then widens what it takes).
    if (dst.outstanding === 0 && dst.sched.missing > 0) {
      for (const k of dst.conns) {
        k.stale = false
        ask(k)
      }
    } else ask(c)
    for (const k of dst.conns) if (k.origin) ask(k)
  }

  const fail = (h: Node): void => {
    h.failed = true
    failed++
    for (const c of h.conns) {
      for (const piece of [...c.requested]) cancel(c, piece)
      for (const piece of [...c.rev.requested]) cancel(c.rev, piece)
    }
    for (const c of h.conns) {
      const other = c.peer
      const back = c.rev // other downloads from h
      other.conns.splice(other.conns.indexOf(back), 1)
      other.byPeer.delete(h.idx)
      if (!back.origin) other.sched.addPeer(back.has, -1)
      if (other.origin) superSeed.peerGone(h.peerId)
      else other.near.addPeer(back.distance, back.has, -1)
      if (back.rackKey !== undefined) other.near.rackPeer(back.rackKey, -1)
      for (const k of other.conns) {
        k.stale = false
        ask(k)
      }
    }
    h.conns = []
    h.byPeer.clear()
    tracker.record({ infoHash, peerId: h.peerId, port: 6881, left: S, event: 'stopped', numwant: 0 }, ipOf(h))
  }

  // ---- the tracker -----------------------------------------------------------------------------------
  const announce = (n: Node): Node[] => {
    const params: AnnounceParams = { infoHash, peerId: n.peerId, port: 6881, left: n.origin ? 0 : S, event: 'started', numwant }
    return tracker.record(params, ipOf(n)).v4.map(nodeOfCompact)
  }

  // ---- run ----------------------------------------------------------------------------------------------
  announce(origin)
  origin.joinedAt = 0
  const startS = (cfg.startMs ?? 0) / 1000
  const late = cfg.lateFraction ?? 0
  const lateWindow = cfg.lateWindowS ?? tMin
  const order = hosts.map((h) => h.idx)
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    ;[order[i], order[j]] = [order[j]!, order[i]!]
  }
  for (const idx of order) {
    const h = hosts[idx]!
    const t = startS + (random() < late ? random() * lateWindow : 0)
    at(t, JOIN, undefined, h)
    if (random() < (cfg.failFraction ?? 0)) at(t + random() * tMin, FAIL, undefined, h)
  }

  const progressEvery = 500_000
  for (let e = heap.pop(); e; e = heap.pop()) {
    now = e.t
    events++
    if (cfg.onProgress && events % progressEvery === 0) cfg.onProgress({ simTime: now, done, hosts: N, events })
    switch (e.kind) {
      case JOIN: {
        const h = e.node!
        if (h.failed) break
        h.joinedAt = now
        // A TCP handshake and the BitTorrent handshake: about 1.5 RTT to each peer.
        for (const p of announce(h)) at(now + rttBetween(h, p) * 1.5, CONNECT, undefined, p, h)
        break
      }
      case CONNECT:
        connect(e.from!, e.node!)
        break
      case SENT: {
        // The last byte left the sender: both slots are free; it lands half an RTT later.
        const x = e.x!
        if (x.cancelled) break
        x.sent = true
        release(x, x.bytes)
        at(now + x.conn.rtt / 2, ARRIVE, x)
        pumpUp(x.conn.peer)
        pumpDown(x.conn.self)
        break
      }
      case ARRIVE:
        if (!e.x!.cancelled) received(e.x!)
        break
      case FAIL: {
        const h = e.node!
        if (!h.failed && h.doneAt === Infinity) fail(h)
        break
      }
    }
  }

  const ratios = hosts
    .filter((h) => !h.failed && h.doneAt < Infinity)
    .map((h) => (h.doneAt - h.joinedAt) / (S / (h.rate / eff)))
    .sort((a, b) => a - b)
  return {
    hosts: N,
    pieces: P,
    pieceLength,
    tMin,
    ratios,
    completed: done,
    failed,
    stuck: N - done - failed,
    originBytes,
    crossRackBytes,
    racks: hostRacks,
    lastDoneS: hosts.reduce((m, h) => (h.doneAt < Infinity ? Math.max(m, h.doneAt) : m), 0),
    doneAt: hosts.map((h) => (h.failed ? Infinity : h.doneAt)),
    rackOf: hosts.map((h) => h.rack),
    events,
    picks,
    emptyPicks,
    wallMs: performance.now() - wall0,
  }
}
