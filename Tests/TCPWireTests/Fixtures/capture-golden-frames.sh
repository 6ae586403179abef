#!/usr/bin/env bash
# capture-golden-frames.sh — capture reference ("golden") Ethernet frames sent by
# the real Linux kernel, for TCPLab's TCPWireTests.
#
# Must run as root. Creates ONLY the network namespaces tl-golden-a and
# tl-golden-b joined by one veth pair (tlg-a in a, tlg-b in b); nothing is
# attached to the host namespace (the veth pair is created inside tl-golden-a).
# Only addresses from 198.18.0.0/15 (RFC 2544 benchmarking range) are used.
# Both namespaces are deleted on exit, including on failure.
#
#   a: tlg-a 02:00:00:00:00:01 198.18.0.1/24
#   b: tlg-b 02:00:00:00:00:02 198.18.0.2/24
#
# IPv6 disabled on both ends, TX checksum offload off on both ends (so the
# captured frames carry finished checksums). All TCP/IP sysctls left at the
# kernel's per-namespace defaults.
#
# Sequence captured with tcpdump on tlg-b (inside b):
#   1. ARP: neighbour tables empty; a sends one UDP datagram to 198.18.0.2:9
#      -> ARP request (a) / ARP reply (b), the UDP datagram, ICMP port unreachable.
#      Then neighbours are flushed and replaced by static permanent entries.
#   2. 198.18.0.1:40000 -> 198.18.0.2:8080: handshake, client sends "hello",
#      server reads it, client closes (FIN), server reads EOF and closes.
#   3. 198.18.0.1:40001 -> 198.18.0.2:8081 (nothing listens): SYN, RST+ACK.
#   4. 198.18.0.1:40002 -> 198.18.0.2:8082: handshake, then the client closes
#      with SO_LINGER {on, 0} -> RST.
#
# Usage: sudo ./capture-golden-frames.sh [OUT.pcap]
set -euo pipefail

NS_A=tl-golden-a
NS_B=tl-golden-b
IF_A=tlg-a
IF_B=tlg-b
MAC_A=02:00:00:00:00:01
MAC_B=02:00:00:00:00:02
IP_A=198.18.0.1
IP_B=198.18.0.2
OUT=${1:-"$(cd "$(dirname "$0")" && pwd)/linux-$(uname -r | cut -d. -f1,2)-handshake.pcap"}

[[ $(id -u) -eq 0 ]] || { echo "must run as root" >&2; exit 1; }
PY=$(command -v python3)
WORK=$(mktemp -d)
TCPDUMP_PID=""
SERVER_PID=""

cleanup() {
    set +e
    [[ -n $SERVER_PID ]] && kill "$SERVER_PID" 2>/dev/null
    if [[ -n $TCPDUMP_PID ]] && kill -0 "$TCPDUMP_PID" 2>/dev/null; then
        kill -INT "$TCPDUMP_PID"; wait "$TCPDUMP_PID" 2>/dev/null
    fi
    ip netns del "$NS_A" 2>/dev/null
    ip netns del "$NS_B" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

ina() { ip netns exec "$NS_A" "$@"; }
inb() { ip netns exec "$NS_B" "$@"; }

# Bounded wait: wait_for <tries of 0.1 s> <command...>
wait_for() {
    local n=$1; shift
    for ((i = 0; i < n; i++)); do "$@" && return 0; sleep 0.1; done
    echo "timeout waiting for: $*" >&2; return 1
}

# --- topology -------------------------------------------------------------
ip netns add "$NS_A"
ip netns add "$NS_B"
ip -n "$NS_A" link add "$IF_A" address "$MAC_A" type veth \
    peer name "$IF_B" address "$MAC_B" netns "$NS_B"

ina sysctl -qw "net.ipv6.conf.$IF_A.disable_ipv6=1"
inb sysctl -qw "net.ipv6.conf.$IF_B.disable_ipv6=1"
ina ethtool -K "$IF_A" tx off >/dev/null
inb ethtool -K "$IF_B" tx off >/dev/null

ip -n "$NS_A" addr add "$IP_A/24" dev "$IF_A"
ip -n "$NS_B" addr add "$IP_B/24" dev "$IF_B"
ip -n "$NS_A" link set lo up
ip -n "$NS_B" link set lo up
ip -n "$NS_A" link set "$IF_A" up
ip -n "$NS_B" link set "$IF_B" up
wait_for 50 bash -c "ip -n $NS_A -o link show $IF_A | grep -q 'state UP' && ip -n $NS_B -o link show $IF_B | grep -q 'state UP'"

# --- capture --------------------------------------------------------------
rm -f "$OUT"
ip netns exec "$NS_B" tcpdump -i "$IF_B" -w "$OUT" -U -Z root 2>"$WORK/tcpdump.err" &
TCPDUMP_PID=$!
wait_for 50 grep -q 'listening on' "$WORK/tcpdump.err"
sleep 0.2

# 1. ARP request/reply (neighbour tables are empty at this point).
ina "$PY" -c "
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('$IP_A', 39999))
s.sendto(b'arp', ('$IP_B', 9))
"
sleep 0.5
ip -n "$NS_A" neigh flush dev "$IF_A"
ip -n "$NS_B" neigh flush dev "$IF_B"
ip -n "$NS_A" neigh add "$IP_B" lladdr "$MAC_B" dev "$IF_A" nud permanent
ip -n "$NS_B" neigh add "$IP_A" lladdr "$MAC_A" dev "$IF_B" nud permanent

# Servers in b (one process, two listeners), bounded by socket timeouts.
ip netns exec "$NS_B" "$PY" -c "
import socket, pathlib
def listener(port):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(('$IP_B', port)); s.listen(1); s.settimeout(10); return s
l1, l3 = listener(8080), listener(8082)
pathlib.Path('$WORK/ready').touch()
# 2. normal connection: read 'hello', then EOF, then close.
c, _ = l1.accept(); c.settimeout(10)
data = b''
while len(data) < 5:
    chunk = c.recv(5 - len(data))
    if not chunk: break
    data += chunk
assert data == b'hello', data
assert c.recv(100) == b''     # client's FIN
c.close()
# 4. connection that the client aborts with RST.
c, _ = l3.accept(); c.settimeout(10)
try:
    c.recv(100)
except ConnectionResetError:
    pass
c.close()
" &
SERVER_PID=$!
wait_for 100 test -e "$WORK/ready"

ina "$PY" -c "
import socket, struct, time
# 2. handshake, 'hello', FIN.
s = socket.socket(); s.settimeout(10)
s.bind(('$IP_A', 40000)); s.connect(('$IP_B', 8080))
time.sleep(0.2)
s.sendall(b'hello')
time.sleep(0.5)          # let the server ACK the data on its own
s.close()
time.sleep(0.5)
# 3. refused connect -> RST+ACK from b's kernel.
s = socket.socket(); s.settimeout(10)
s.bind(('$IP_A', 40001))
try:
    s.connect(('$IP_B', 8081)); raise SystemExit('connect to 8081 unexpectedly succeeded')
except ConnectionRefusedError:
    pass
s.close()
time.sleep(0.5)
# 4. abortive close with SO_LINGER {1, 0} -> RST from a.
s = socket.socket(); s.settimeout(10)
s.bind(('$IP_A', 40002)); s.connect(('$IP_B', 8082))
time.sleep(0.2)
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
s.close()
"
wait "$SERVER_PID"; SERVER_PID=""
# libpcap (TPACKET_V3) hands packets over in blocks retired after a 1 s
# timeout; wait longer than that so the last frame reaches the file.
sleep 2
kill -INT "$TCPDUMP_PID"; wait "$TCPDUMP_PID" || true; TCPDUMP_PID=""
cat "$WORK/tcpdump.err" >&2
echo "wrote $OUT" >&2
