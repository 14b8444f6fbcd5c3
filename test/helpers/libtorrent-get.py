"""Downloads one .torrent with libtorrent (Debian's python3-libtorrent) and exits 0 when every
piece is held; prints one JSON line with the time it took. Used by the third-party interop test:
    python3 libtorrent-get.py TORRENT SAVE_DIR TIMEOUT_S
DHT, LSD, UPnP and NAT-PMP are off: the only way to peers is the tracker in the .torrent.
"""
import json
import sys
import time

import libtorrent as lt

torrent, save, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
ses = lt.session({
    'listen_interfaces': '127.0.0.1:0',
    'enable_dht': False,
    'enable_lsd': False,
    'enable_upnp': False,
    'enable_natpmp': False,
    'alert_mask': lt.alert_category.error | lt.alert_category.peer | lt.alert_category.status,
})
start = time.monotonic()
h = ses.add_torrent({'ti': lt.torrent_info(torrent), 'save_path': save})
first_byte = None
while True:
    s = h.status()
    if first_byte is None and s.total_wanted_done > 0:
        first_byte = time.monotonic() - start
    if s.is_seeding or s.state == lt.torrent_status.seeding:
        break
    if s.errc.value() != 0:
        print(json.dumps({'error': s.errc.message()}))
        sys.exit(2)
    if time.monotonic() - start > timeout:
        print(json.dumps({'error': 'timeout', 'done': s.total_wanted_done, 'peers': s.num_peers}))
        sys.exit(3)
    for a in ses.pop_alerts():
        if a.category() & lt.alert_category.error:
            print(a.message(), file=sys.stderr)
    ses.wait_for_alert(100)
print(json.dumps({'seconds': time.monotonic() - start, 'firstByte': first_byte}))
