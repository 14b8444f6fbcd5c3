'use strict'
// See index.js: WebRTC is not used between servers.
module.exports = { RTCPeerConnection: undefined, RTCSessionDescription: undefined, RTCIceCandidate: undefined }
