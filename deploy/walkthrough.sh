#!/usr/bin/env bash
# Follows docs/venue.md step by step in network namespaces standing in for the venue, with the
# shipped example files (config/*.toml, deploy/dnsmasq-crowdlight.conf, deploy/nginx-crowdlight.conf)
# changed only where a path must point into a temporary directory:
#
#   sw: bridge br-show (wired show LAN 10.77.0.0/24) and bridge br-aud (audience 10.78.0.0/20)
#   beacon  10.77.0.2               beacon run --config beacon.toml (OSC on 10.77.0.2:9000)
#   desk    10.77.0.30              a lighting desk sending OSC
#   portal1 10.77.0.11 / 10.78.0.11 portal run --config portal.toml
#   portal2 10.77.0.12 / 10.78.0.12 a second relay (scaling out)
#   cache   10.78.0.10              nginx with deploy/nginx-crowdlight.conf
#   gw      10.78.0.1               dnsmasq with deploy/dnsmasq-crowdlight.conf (DHCP)
#   phone   DHCP on br-aud          dig, curl, a multicast listener
#
# portal1 also gets deploy/nftables-crowdlight.nft (when nft is installed) and forwarding off;
# a phonesim rehearsal runs from the phone's network (when target/release/phonesim is built).
#
# Needs root, ip(8), dnsmasq, nginx, dig, curl, python3 and the release binaries. Every address
# lives only inside the namespaces created here; all are removed on exit. Prints PASS/FAIL
# per check and exits non-zero if any check failed.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=${CROWDLIGHT_BIN_DIR:-$ROOT/target/release}
P=clw$$
NSS=(sw beacon desk portal1 portal2 cache gw phone)
W=$(mktemp -d /tmp/crowdlight-walk.XXXXXX)
FAILS=0

[ "$(id -u)" = 0 ] || { echo "walkthrough: needs root"; exit 2; }
for tool in ip dnsmasq nginx dig curl python3; do
  command -v "$tool" >/dev/null || { echo "walkthrough: $tool missing"; exit 2; }
done

ns() { echo "$P-$1"; }
in_ns() { local n=$1; shift; ip netns exec "$(ns "$n")" "$@"; }
say() { printf '\n## %s\n' "$*"; }
check() { # description command...
  local what=$1; shift
  if "$@" >"$W/check.out" 2>&1; then echo "PASS  $what"; else
    echo "FAIL  $what"; sed 's/^/      /' "$W/check.out" | tail -5; FAILS=$((FAILS + 1)); fi
}
cleanup() {
  set +e
  for n in "${NSS[@]}"; do ip netns pids "$(ns "$n")" 2>/dev/null | xargs -r kill 2>/dev/null; done
  sleep 0.5
  for n in "${NSS[@]}"; do
    ip netns pids "$(ns "$n")" 2>/dev/null | xargs -r kill -9 2>/dev/null
    ip netns del "$(ns "$n")" 2>/dev/null
  done
  if [ -n "${KEEP:-}" ]; then echo "walkthrough: files kept in $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT

say "Network: the wired show LAN and the audience network (docs/venue.md, Network layout)"
for n in "${NSS[@]}"; do ip netns add "$(ns "$n")"; in_ns "$n" ip link set lo up; done
in_ns sw ip link add br-show type bridge mcast_snooping 0
in_ns sw ip link add br-aud type bridge mcast_snooping 0
in_ns sw ip link set br-show up
in_ns sw ip link set br-aud up
PORTS=0
port_of() { # ns bridge ifname [addr/len]
  local n=$1 br=$2 ifn=$3 addr=${4:-}
  PORTS=$((PORTS + 1))
  local peer="sw$PORTS-${br#br-}"
  in_ns sw ip link add "$peer" type veth peer name "$ifn" netns "$(ns "$n")"
  in_ns sw ip link set "$peer" master "$br" up
  in_ns "$n" ip link set "$ifn" up
  [ -z "$addr" ] || in_ns "$n" ip addr add "$addr" dev "$ifn"
}
port_of beacon br-show show0 10.77.0.2/24
port_of desk br-show show0 10.77.0.30/24
port_of portal1 br-show show0 10.77.0.11/24
port_of portal1 br-aud aud0 10.78.0.11/20
port_of portal2 br-show show0 10.77.0.12/24
port_of portal2 br-aud aud0 10.78.0.12/20
port_of cache br-aud aud0 10.78.0.10/20
port_of gw br-aud aud0 10.78.0.1/20
port_of phone br-aud wlan0
# Multicast leaves on the show LAN interface only (the daemons also pin it by address).
for n in beacon portal1 portal2; do in_ns "$n" ip route add 224.0.0.0/4 dev show0; done

say "The portal box: two legs, forwarding off, firewall (docs/venue.md)"
check "portal1 has its show leg (show0 10.77.0.11) and audience leg (aud0 10.78.0.11)" bash -c \
  "ip netns exec $(ns portal1) ip -br addr | grep -q '^show0.*10.77.0.11/24' && ip netns exec $(ns portal1) ip -br addr | grep -q '^aud0.*10.78.0.11/20'"
in_ns portal1 sysctl -q -w net.ipv4.ip_forward=0 net.ipv6.conf.all.forwarding=0
check "IP forwarding is off on portal1 (sysctl net.ipv4.ip_forward = 0)" \
  test "$(in_ns portal1 sysctl -n net.ipv4.ip_forward)" = 0
NFT=0
if command -v nft >/dev/null; then
  check "nft -c -f deploy/nftables-crowdlight.nft (syntax)" nft -c -f deploy/nftables-crowdlight.nft
  # The walkthrough's interface names are the ruleset's (aud0, show0): load it as shipped.
  check "the ruleset loads on portal1" in_ns portal1 nft -f deploy/nftables-crowdlight.nft && NFT=1
else
  echo "SKIP  nftables checks (apt-get install nftables)"
fi

say "Keys and configs (docs/venue.md, Install)"
mkdir -p "$W/etc/shows" "$W/run" "$W/state" "$W/cache"
if "$BIN/beacon" keygen --help >/dev/null 2>&1; then
  "$BIN/beacon" keygen "$W/etc/venue.key"      # docs/venue.md: beacon keygen FILE [--owner ...]
else # TODO: drop once every build has `beacon keygen`
  (umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$W/etc/venue.key")
fi
cp shows/examples/intermission.toml "$W/etc/shows/"
localise() { sed -e "s#/etc/crowdlight/#$W/etc/#g" -e "s#/run/crowdlight/#$W/run/#g" \
  -e "s#/var/lib/crowdlight/#$W/state/#g" "$1"; }
localise config/beacon.toml >"$W/etc/beacon.toml"
localise config/portal.toml >"$W/etc/portal.toml"
# Scaling out (docs/venue.md): each relay's own addresses; phones are sent to the cache, which
# is exempt from the per-address limits (every phone arrives from its one address).
for i in 1 2; do
  sed -e "s/10\.78\.0\.11/10.78.0.1$i/g" -e "s/10\.77\.0\.11/10.77.0.1$i/g" \
    -e 's#^canonical-url = .*#canonical-url = "http://10.78.0.10/"#' \
    -e 's#^exempt-addresses = \[\]#exempt-addresses = ["10.78.0.10"]#' \
    -e 's#^ipv4 = .*#ipv4 = "10.78.0.10"#' "$W/etc/portal.toml" >"$W/etc/portal-scaled$i.toml"
done
check "key file is 0600" test "$(stat -c %a "$W/etc/venue.key")" = 600
check "beacon validate beacon.toml (in the beacon's namespace)" in_ns beacon "$BIN/beacon" validate "$W/etc/beacon.toml"
check "beacon validate refuses it on a host without 10.77.0.2" bash -c "! '$BIN/beacon' validate '$W/etc/beacon.toml'"
if "$BIN/portal" validate --help >/dev/null 2>&1; then
  check "portal validate portal.toml (in portal1's namespace)" in_ns portal1 "$BIN/portal" validate "$W/etc/portal.toml"
else
  echo "SKIP  portal validate (not in this build)"
fi

say "Start the beacon and a relay"
export CROWDLIGHT_SOCKET="$W/run/beacon.sock"
# PIDs come from $! only: never look processes up by name (other programs may run the same).
ip netns exec "$(ns beacon)" env RUST_LOG=info "$BIN/beacon" run --config "$W/etc/beacon.toml" >"$W/beacon.log" 2>&1 &
BPID=$!
ip netns exec "$(ns portal1)" env RUST_LOG=info "$BIN/portal" run --config "$W/etc/portal.toml" >"$W/portal1.log" 2>&1 &
P1=$!
sleep 0.2
check "tracked PIDs are the daemons themselves" bash -c \
  "readlink /proc/$BPID/exe | grep -q '/beacon\$' && readlink /proc/$P1/exe | grep -q '/portal\$'"
wait_for() { local what=$1; shift; for _ in $(seq 100); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  echo "timed out: $what"; return 1; }
healthy() { [ "$(in_ns "$1" curl -sS -o /dev/null -w '%{http_code}' "http://$2/healthz")" = 200 ]; }
check "relay 1 hears the beacon over the show LAN (/healthz 200)" wait_for "portal1 healthy" healthy portal1 10.77.0.11

say "DHCP on the audience network (docs/venue.md, DHCP)"
sed -e "s#^interface=aud0#interface=aud0#" deploy/dnsmasq-crowdlight.conf >"$W/dnsmasq.conf"
in_ns gw dnsmasq --conf-file="$W/dnsmasq.conf" --no-daemon --log-dhcp --dhcp-leasefile="$W/leases" \
  --pid-file="$W/dnsmasq.pid" >"$W/dnsmasq.log" 2>&1 &
sleep 0.5
cat >"$W/dhcp.py" <<'PY'
# Minimal DHCPDISCOVER on wlan0; prints the OFFER's address and options 3, 6, 114 as JSON.
import json, os, random, socket, struct, sys
mac = bytes.fromhex(open('/sys/class/net/wlan0/address').read().strip().replace(':', ''))
xid = random.getrandbits(32)
pkt = struct.pack('!BBBBIHH4s4s4s4s16s64s128s', 1, 1, 6, 0, xid, 0, 0x8000, b'\0'*4, b'\0'*4,
                  b'\0'*4, b'\0'*4, mac + b'\0'*10, b'\0'*64, b'\0'*128)
pkt += b'\x63\x82\x53\x63' + bytes([53, 1, 1, 55, 4, 1, 3, 6, 114, 255])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b'wlan0')
s.bind(('0.0.0.0', 68)); s.settimeout(5)
s.sendto(pkt, ('255.255.255.255', 67))
while True:
    data = s.recv(2048)
    if struct.unpack('!I', data[4:8])[0] != xid: continue
    out = {'yiaddr': socket.inet_ntoa(data[16:20])}
    i = 240
    while i < len(data) and data[i] != 255:
        if data[i] == 0: i += 1; continue
        code, ln = data[i], data[i + 1]; val = data[i + 2:i + 2 + ln]; i += 2 + ln
        if code == 3: out['router'] = socket.inet_ntoa(val[:4])
        if code == 6: out['dns'] = [socket.inet_ntoa(val[j:j + 4]) for j in range(0, ln, 4)]
        if code == 114: out['captive_api'] = val.decode()
        if code == 51: out['lease_s'] = struct.unpack('!I', val)[0]
    print(json.dumps(out)); break
PY
in_ns phone python3 "$W/dhcp.py" >"$W/offer.json" 2>"$W/dhcp.err" || true
cat "$W/offer.json" "$W/dhcp.err" 2>/dev/null | sed 's/^/      /'
offer() { python3 -c "import json,sys; print(json.load(open('$W/offer.json'))$1)"; }
check "DHCP offer: an address in 10.78.0.0/20" bash -c "[[ \$(python3 -c \"import json; print(json.load(open('$W/offer.json'))['yiaddr'])\") == 10.78.* ]]"
check "DHCP offer: DNS server = the portal (10.78.0.11)" test "$(offer "['dns'][0]")" = 10.78.0.11
check "DHCP offer: option 114 = the captive API URI" test "$(offer "['captive_api']")" = https://show.example.org/api/captive
PHONE_IP=$(offer "['yiaddr']" 2>/dev/null || echo 10.78.1.1)
in_ns phone ip addr add "$PHONE_IP/20" dev wlan0
in_ns phone ip route add default via 10.78.0.1

if [ "$NFT" = 1 ]; then
  say "Firewall: what phones can reach (docs/venue.md, Firewall)"
  # A stand-in ssh on portal1 and a service on the desk (show LAN): phones must reach neither.
  in_ns portal1 python3 -m http.server 22 --bind 0.0.0.0 >/dev/null 2>&1 &
  in_ns desk python3 -m http.server 8000 --bind 10.77.0.30 >/dev/null 2>&1 &
  sleep 0.5
  in_ns phone ip route add 10.77.0.0/24 via 10.78.0.11   # a phone that tries the portal as a router
  tcp_ok() { in_ns "$1" timeout 2 bash -c "exec 3<>/dev/tcp/$2/$3" 2>/dev/null; }
  check "phone → portal HTTP 80: allowed" tcp_ok phone 10.78.0.11 80
  check "phone → portal DNS 53/tcp: allowed" tcp_ok phone 10.78.0.11 53
  tcp_blocked() { ! tcp_ok "$@"; }
  check "phone → portal port 22: dropped" tcp_blocked phone 10.78.0.11 22
  check "desk (show LAN) → portal port 22: allowed" tcp_ok desk 10.77.0.11 22
  check "phone → a show-LAN host through the portal: dropped (no forwarding)" tcp_blocked phone 10.77.0.30 8000
  in_ns phone ip route del 10.77.0.0/24 via 10.78.0.11
fi

say "A phone joins (docs/venue.md, what a phone does)"
check "captive DNS answers every name with the portal" \
  test "$(in_ns phone dig +short +time=2 @10.78.0.11 connectivitycheck.gstatic.com A)" = 10.78.0.11
check "captive DNS over TCP too" \
  test "$(in_ns phone dig +short +tcp +time=2 @10.78.0.11 captive.apple.com A)" = 10.78.0.11
probe() { in_ns phone curl -s -o /dev/null -w '%{http_code} %{redirect_url}' --resolve "$1:80:10.78.0.11" "http://$1$2"; }
check "Android probe → 302 to the page" bash -c "[[ '$(probe connectivitycheck.gstatic.com /generate_204)' == '302 http://10.78.0.11/' ]]"
check "Apple probe does not get Success" bash -c "! ip netns exec $(ns phone) curl -s --resolve captive.apple.com:80:10.78.0.11 http://captive.apple.com/hotspot-detect.html | grep -q Success"
check "the page loads from the portal" bash -c "ip netns exec $(ns phone) curl -fsS http://10.78.0.11/ | grep -qi '<html'"
check "/s answers from the audience side" bash -c "ip netns exec $(ns phone) curl -fsS http://10.78.0.11/s | grep -q '\"state\"'"
cat >"$W/mcast.py" <<'PY'
# Listens for beacon multicast for 2 s on the given interface address; prints the count.
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('239.255.77.77', 7777))
s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, socket.inet_aton('239.255.77.77') + socket.inet_aton(sys.argv[1]))
s.settimeout(0.2); n = 0
import time; end = time.time() + 2
while time.time() < end:
    try: s.recv(512); n += 1
    except socket.timeout: pass
print(n)
PY
check "multicast is on the show LAN (a show-LAN host hears ≥ 10 packets in 2 s)" \
  bash -c "[ \$(ip netns exec $(ns desk) python3 $W/mcast.py 10.77.0.30) -ge 10 ]"
check "no multicast reaches the audience network" \
  test "$(in_ns phone python3 "$W/mcast.py" "$PHONE_IP")" = 0

say "Operator: CLI, OSC from the desk, console (docs/venue.md, Show night)"
check "beacon status over the operator socket" in_ns beacon "$BIN/beacon" status
osc() { # from-ns address [string-arg]
  in_ns "$1" python3 - "$2" "${3:-}" <<'PY'
import socket, sys
def pad(b): return b + b'\0' * (4 - len(b) % 4)
addr, arg = sys.argv[1], sys.argv[2]
msg = pad(addr.encode()) + (pad(b',s') + pad(arg.encode()) if arg else pad(b','))
socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(msg, ('10.77.0.2', 9000))
PY
}
state_is() { in_ns phone curl -fsS http://10.78.0.11/s | grep -q "\"state\":\"$1\""; }
osc desk /crowdlight/go countdown
check "OSC /crowdlight/go countdown from the desk (10.77.0.30) → phones see running" wait_for running state_is running
osc portal1 /crowdlight/stop
sleep 0.5
check "OSC from a host not in osc-allow (10.77.0.11) is dropped" bash -c \
  "ip netns exec $(ns beacon) '$BIN/beacon' status --json | grep -q '\"osc_denied\":1' && ip netns exec $(ns phone) curl -fsS http://10.78.0.11/s | grep -q '\"state\":\"running\"'"
in_ns beacon "$BIN/beacon" console --listen 127.0.0.1:8090 --relay http://10.77.0.11 >"$W/console.log" 2>&1 &
# The console prints its URL with the operator token (#token=…); every /api/ call carries it.
console_token() { grep -o '#token=[^[:space:]]*' "$W/console.log" | head -1 | cut -d= -f2; }
relays_ok() { in_ns beacon curl -fsS -H 'Host: 127.0.0.1:8090' -H "X-Console-Token: $(console_token)" \
  http://127.0.0.1:8090/api/relays | grep -q '"healthy":true'; }
check "console on the beacon host shows relay 1 hearing the beacon" wait_for console relays_ok

say "Failures (docs/venue.md, When things fail)"
AT=$(in_ns phone curl -fsS http://10.78.0.11/s | python3 -c 'import json,sys; print(json.load(sys.stdin)["at"])')
kill -9 "$BPID"
check "beacon down: relay keeps serving the last state" state_is running
ip netns exec "$(ns beacon)" env RUST_LOG=info "$BIN/beacon" run --config "$W/etc/beacon.toml" >>"$W/beacon.log" 2>&1 &
BPID=$!
same_at() { [ "$(in_ns phone curl -fsS http://10.78.0.11/s | python3 -c 'import json,sys; print(json.load(sys.stdin)["at"])')" = "$AT" ] && healthy portal1 10.77.0.11; }
sleep 1
check "beacon restarted: same cue, same start time, relay healthy" wait_for resume same_at
kill -HUP "$BPID"
sleep 0.5
check "SIGHUP (systemctl reload) keeps the running cue" same_at
check "the state file (docs/venue.md, The beacon's state file) names the running cue" \
  grep -q countdown "$W/state/beacon-state.json"

say "Rehearsal: phonesim on the audience network against relay 1 (docs/venue.md, Rehearsal)"
if [ -x "$BIN/phonesim" ]; then
  for i in $(seq 1 20); do in_ns phone ip addr add "10.78.9.$i/20" dev wlan0; done
  in_ns phone "$BIN/phonesim" run --relay 10.78.0.11:80 \
    --phones 40 --duration-s 8 --ramp-s 2 --source-base 10.78.9.1 --sources 20 \
    --report-every-s 0 --require-join --json "$W/rehearsal.json" >"$W/phonesim.out" 2>&1 \
    && PHONESIM=0 || PHONESIM=$?
  grep '^phonesim' "$W/phonesim.out" | sed 's/^/      /'
  check "phonesim --require-join: every phone joined (exit 0)" test "$PHONESIM" = 0
  check "rehearsal summary: 40 phones, 0 errors" grep -q 'phonesim final: phones 40 .* errors 0 ' "$W/phonesim.out"
else
  echo "SKIP  rehearsal ($BIN/phonesim not built: cargo build --release -p sim)"
fi

say "Scaling out: a second relay and an nginx cache (docs/venue.md, Scaling out)"
OLD1=$P1
kill "$OLD1"
gone() { ! kill -0 "$1" 2>/dev/null; }
check "relay 1 exits on SIGTERM (systemctl restart)" wait_for "portal1 to exit" gone "$OLD1"
ip netns exec "$(ns portal1)" env RUST_LOG=info "$BIN/portal" run --config "$W/etc/portal-scaled1.toml" >>"$W/portal1.log" 2>&1 &
P1=$!
ip netns exec "$(ns portal2)" env RUST_LOG=info "$BIN/portal" run --config "$W/etc/portal-scaled2.toml" >"$W/portal2.log" 2>&1 &
check "relay 1 (restarted, canonical URL = the cache) hears the beacon" wait_for "portal1 healthy" healthy portal1 10.77.0.11
check "relay 2 hears the beacon" wait_for "portal2 healthy" healthy portal2 10.77.0.12
# docs/venue.md, "Getting shows to every portal", step 5, run from the show LAN.
every_relay_has_show() {
  for r in 10.77.0.11 10.77.0.12; do
    show=$(curl -fsS http://$r/s | sed 's/.*"show":"\([^"]*\)".*/\1/')
    curl -fsS -o /dev/null -w "$r $show %{http_code}\n" "http://$r$show"   # 200 on every relay
  done
}
check "every relay serves the show the beacon announces" in_ns beacon bash -c "$(declare -f every_relay_has_show); every_relay_has_show"
check "captive DNS now points phones at the cache" \
  test "$(in_ns phone dig +short +time=2 @10.78.0.12 anything.example A)" = 10.78.0.10
sed -e "s#/var/cache/nginx/crowdlight#$W/cache#" deploy/nginx-crowdlight.conf >"$W/crowdlight-nginx.conf"
cat >"$W/nginx.conf" <<EOF
worker_processes 1;
user root;
pid $W/nginx.pid;
error_log $W/nginx-error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $W/nginx-tmp; proxy_temp_path $W/nginx-tmp;
  fastcgi_temp_path $W/nginx-tmp; uwsgi_temp_path $W/nginx-tmp; scgi_temp_path $W/nginx-tmp;
  include $W/crowdlight-nginx.conf;
}
EOF
mkdir -p "$W/nginx-tmp"
check "nginx -t accepts deploy/nginx-crowdlight.conf" in_ns cache nginx -t -c "$W/nginx.conf"
in_ns cache nginx -c "$W/nginx.conf" -g 'daemon off;' >"$W/nginx.log" 2>&1 &
wait_for nginx in_ns phone curl -fsS -o /dev/null http://10.78.0.10/s || true
cache_status() { in_ns phone curl -s -D - -o /dev/null "http://10.78.0.10$1" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-cache-status"{print $2}'; }
check "the page through nginx" bash -c "ip netns exec $(ns phone) curl -fsS http://10.78.0.10/ | grep -qi '<html'"
via_cache_probe() { ip netns exec "$(ns phone)" curl -s -o /dev/null -w '%{http_code} %{redirect_url}' \
  --resolve connectivitycheck.gstatic.com:80:10.78.0.10 http://connectivitycheck.gstatic.com/generate_204; }
equals() { local want=$1; shift; local got; got=$("$@"); [ "$got" = "$want" ] || { echo "got: $got (want $want)"; return 1; }; }
check "a probe through nginx → 302 to the cache's address" equals '302 http://10.78.0.10/' via_cache_probe
# max-age=1 and nginx's one-second clock: a pair of requests may straddle the expiry; try 3 pairs.
s_hit() { for _ in 1 2 3; do cache_status /s >/dev/null; [ "$(cache_status /s)" = HIT ] && return 0; done; return 1; }
check "/s through nginx: the second of two back-to-back requests is a cache HIT" s_hit
# Long-poll through the cache (docs/venue.md, Scaling out): phones waiting on one version share
# one cache key; with proxy_cache_lock the relays hold one request for all of them.
collapsed() {
  local v n=0 l pids=()
  v=$(in_ns phone curl -fsS http://10.78.0.10/s | python3 -c 'import json,sys; print(json.load(sys.stdin)["v"])')
  for _ in $(seq 20); do
    in_ns phone curl -s -o /dev/null --max-time 4 "http://10.78.0.10/s?after=$v" &
    pids+=($!)
  done
  sleep 1.5
  for r in portal1:10.77.0.11 portal2:10.77.0.12; do
    l=$(in_ns "${r%%:*}" curl -s "http://${r#*:}/metrics" | awk '$1=="portal_listeners"{print $2}')
    n=$((n + ${l:-0}))
  done
  kill "${pids[@]}" 2>/dev/null; wait "${pids[@]}" 2>/dev/null
  echo "requests parked at the relays for 20 waiting phones: $n"
  [ "$n" = 1 ]
}
check "/s?after=V through nginx: 20 waiting phones are one parked request at the relays" collapsed
check "/t through nginx: never cached" bash -c "[ \"\$(ip netns exec $(ns phone) curl -s -D - -o /dev/null http://10.78.0.10/t | tr -d '\r' | awk -F': ' 'tolower(\$1)==\"x-cache-status\"{print \$2}')\" != HIT ]"
SHOW=$(in_ns phone curl -fsS http://10.78.0.10/s | python3 -c 'import json,sys; print(json.load(sys.stdin)["show"])')
cache_status "$SHOW" >/dev/null
check "the compiled show is cached (immutable)" test "$(cache_status "$SHOW")" = HIT
kill -9 "$P1"
t_code() { ip netns exec "$(ns phone)" curl -s -o /dev/null -w '%{http_code}' http://10.78.0.10/t; }
five_t() { for _ in 1 2 3 4 5; do equals 200 t_code || return 1; done; }
check "relay 1 killed: /t still answered through nginx (relay 2)" five_t
check "relay 1 killed: /s still answered" bash -c "sleep 1.2; ip netns exec $(ns phone) curl -fsS http://10.78.0.10/s | grep -q '\"state\":\"running\"'"

say "Start fresh (docs/venue.md, The beacon's state file)"
if "$BIN/beacon" run --help 2>/dev/null | grep -q -- --fresh; then
  kill "$BPID"; wait "$BPID" 2>/dev/null || true
  ip netns exec "$(ns beacon)" env RUST_LOG=info "$BIN/beacon" run --fresh --config "$W/etc/beacon.toml" >>"$W/beacon.log" 2>&1 &
  BPID=$!
  stopped() { in_ns beacon "$BIN/beacon" status --json | grep -q '"state":"stopped"'; }
  check "beacon run --fresh: the persisted cue is discarded, the show starts stopped" wait_for fresh stopped
else
  echo "SKIP  beacon run --fresh (not in this build)"
fi

echo
if [ "$FAILS" = 0 ]; then echo "walkthrough: all checks passed"; else echo "walkthrough: $FAILS check(s) failed"; exit 1; fi
