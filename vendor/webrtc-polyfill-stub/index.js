// Shoal never opens WebRTC connections: hosts talk TCP peer wire (BEP 3).
// webtorrent and bittorrent-tracker only need these names to exist.
export const RTCPeerConnection = undefined
export const RTCSessionDescription = undefined
export const RTCIceCandidate = undefined
export default { RTCPeerConnection, RTCSessionDescription, RTCIceCandidate }
