#!/usr/bin/env python3
# gst-klingo1 benchmark: a TCP relay that notes when requests arrive
# SPDX-License-Identifier: LGPL-2.1-or-later
#
#   reqlog.py UPSTREAM_PORT LOGFILE
#
# Listens on 127.0.0.1 (a free port; the first stdout line is its base URL),
# relays every connection to 127.0.0.1:UPSTREAM_PORT byte for byte, and
# appends to LOGFILE, for each connection, the CLOCK_MONOTONIC time (ns) of
# its first bytes and the request line found there:
#   1234567890 POST /api/v1/files/upload/stream HTTP/1.1
# (later requests on a kept-alive connection are not logged: the benchmark
# wants the first request of a process). Compare with runstat's start_ns.
import socket
import sys
import threading
import time


def pump(src, dst):
    try:
        while True:
            data = src.recv(1 << 18)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s, how in ((dst, socket.SHUT_WR), (src, socket.SHUT_RD)):
            try:
                s.shutdown(how)
            except OSError:
                pass


def serve(client, upstream_port, log, lock):
    try:
        first = client.recv(1 << 16)
    except OSError:
        client.close()
        return
    t = time.monotonic_ns()
    line = first.split(b"\r\n", 1)[0].decode("latin-1", "replace")
    with lock:
        log.write("%d %s\n" % (t, line))
        log.flush()
    up = socket.create_connection(("127.0.0.1", upstream_port))
    up.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if first:
        up.sendall(first)
    back = threading.Thread(target=pump, args=(up, client), daemon=True)
    back.start()
    pump(client, up)
    back.join()
    client.close()
    up.close()


def main():
    upstream_port = int(sys.argv[1])
    log = open(sys.argv[2], "a")
    lock = threading.Lock()
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    print("http://127.0.0.1:%d" % listener.getsockname()[1], flush=True)
    while True:
        client, _ = listener.accept()
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=serve, args=(client, upstream_port, log, lock),
                         daemon=True).start()


if __name__ == "__main__":
    main()
