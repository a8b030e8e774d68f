#!/bin/bash
# tests/netns/proxy.sh - policy(5)'s proxy blocks, pushed live
#
# A real proxy (tinyproxy) on the host's loopback, 127.0.0.1:3128, and two
# guests kept from the lan's port 8080 by the firewall: g1 in NAT mode, g2
# mirrored. Checks: each guest gets the proxy settings (shell profile,
# apt, systemd's manager) pointing at its own loopback, and curl through
# them reaches the lan server (the automatic reverse forward); a change of
# the policy reaches the guests without a restart; "none" takes the
# settings away; follow-host takes the host's from a file, and a change of
# the file is followed without a reload; a proxy block for one VM beats
# the one for all.
TEST_NAME=proxy
. "$(dirname "$0")/lib.sh"
bed_init
bed_up
bed_guest g1
bed_guest g2
bed_write_conf g1 g2 >/dev/null
sed -i "1i policy-dir \"$TMP/policy.d\"" "$TMP/host-netd.conf"
sed -i '/^vm "g2" {/a \	mode mirrored' "$TMP/host-netd.conf"
mkdir "$TMP/policy.d"

cat >"$TMP/tinyproxy.conf" <<EOF
Port 3128
Listen 127.0.0.1
Timeout 30
Allow 127.0.0.1
LogLevel Info
MaxClients 20
EOF
bed_spawn "$NS_HOST" tinyproxy tinyproxy -d -c "$TMP/tinyproxy.conf"
cat >"$TMP/policy.d/10-proxy.conf" <<EOF
firewall { deny out tcp to $LAN4 $LAN6 port 8080 }
proxy {
	http "http://127.0.0.1:3128"
	https "http://localhost:3128/"
	no-proxy "localhost,.internal"
}
EOF
# g1's systemd: a systemctl that writes down what it is told.
printf '#!/bin/sh\necho "$*" >>"%s/systemctl.log"\n' "$TMP" >"$TMP/systemctl"
chmod +x "$TMP/systemctl"
bed_host_netd
GUEST_NETD_ARGS="--systemctl $TMP/systemctl" bed_guest_netd g1
bed_guest_netd g2
wait_online g1 g2
wait_for 5 "tinyproxy listens" in_host sh -c "ss -ltn | grep -q '127.0.0.1:3128 '"
connects=$(grep -c "guest connected" "$TMP/host-netd.log")

# proxied G URL: curl in guest G with the settings its shells get.
proxied() {
	in_guest "$1" sh -c ". '$TMP/$1-proxy.sh' && curl -sS -m 5 '$2'"
}

# --- the proxy on the host's loopback, used from both guests -----------------
for g in g1 g2; do
	f=$TMP/$g-proxy.sh
	wait_for 5 "$g's proxy settings" test -s "$f"
	grep -qx "export http_proxy='http://127.0.0.1:3128'" "$f" ||
		fail "$g: http_proxy: $(cat "$f")"
	grep -qx "export HTTPS_PROXY='http://127.0.0.1:3128/'" "$f" ||
		fail "$g: localhost is not the guest's 127.0.0.1: $(cat "$f")"
	grep -qx "export no_proxy='localhost,.internal'" "$f" ||
		fail "$g: no_proxy: $(cat "$f")"
	grep -qx 'Acquire::http::Proxy "http://127.0.0.1:3128";' "$TMP/$g-apt.conf" ||
		fail "$g: apt: $(cat "$TMP/$g-apt.conf" 2>&1)"
	in_guest $g curl -sS -m 3 "http://$LAN4:8080/" >/dev/null 2>&1 &&
		fail "$g reaches the lan's 8080 without the proxy"
	[ "$(proxied $g "http://$LAN4:8080/")" = "$HOST4" ] ||
		fail "$g: curl through the host's loopback proxy"
	[ "$(proxied $g "http://[$LAN6]:8080/")" = "[2001:0db8:0001:0000:0000:0000:0000:0002]" ] ||
		fail "$g: curl through the proxy to an IPv6 server"
done
grep -q "GET http://$LAN4:8080/" "$TMP/tinyproxy.log" ||
	fail "the requests did not go through the proxy"
grep -qx "set-environment http_proxy=http://127.0.0.1:3128 HTTP_PROXY=http://127.0.0.1:3128 https_proxy=http://127.0.0.1:3128/ HTTPS_PROXY=http://127.0.0.1:3128/ no_proxy=localhost,.internal NO_PROXY=localhost,.internal" \
    "$TMP/systemctl.log" || fail "g1's systemd was not told: $(cat "$TMP/systemctl.log" 2>&1)"
grep -qx "unset-environment auto_proxy" "$TMP/systemctl.log" ||
	fail "g1's systemd: auto_proxy not unset: $(cat "$TMP/systemctl.log")"
pass "a proxy on the host's loopback: the guests' settings name their own loopback, curl gets through (NAT and mirrored)"

# --- changed live --------------------------------------------------------------
sed -i 's/"localhost,.internal"/"localhost,.corp"/' "$TMP/policy.d/10-proxy.conf"
netctl reload >/dev/null || fail "reload refused"
wait_for 5 "no_proxy changed in g1" grep -qx "export no_proxy='localhost,.corp'" "$TMP/g1-proxy.sh"
wait_for 5 "no_proxy changed in g2" grep -qx "export no_proxy='localhost,.corp'" "$TMP/g2-proxy.sh"
wait_for 5 "g1's systemd told" grep -q "set-environment .* no_proxy=localhost,.corp " "$TMP/systemctl.log"
# One VM of its own: no proxy.
cat >>"$TMP/policy.d/10-proxy.conf" <<'EOF'
proxy "g2" { none }
EOF
netctl reload >/dev/null || fail "reload refused"
wait_for 5 "g2's settings removed" sh -c "[ ! -e '$TMP/g2-proxy.sh' ] && [ ! -e '$TMP/g2-apt.conf' ]"
[ -s "$TMP/g1-proxy.sh" ] || fail "g1 lost its proxy to g2's block"
[ "$(grep -c "guest connected" "$TMP/host-netd.log")" = "$connects" ] ||
	fail "a guest was reconnected for a proxy change"
pass "changes reach the guests without a restart; a VM's own block beats the one for all"

# --- follow-host -----------------------------------------------------------------
cat >"$TMP/environment" <<'EOF'
PATH="/usr/local/bin:/usr/bin:/bin"
http_proxy="http://127.0.0.1:3128"
HTTPS_PROXY=http://127.0.0.1:3128
EOF
cat >"$TMP/policy.d/10-proxy.conf" <<EOF
firewall { deny out tcp to $LAN4 $LAN6 port 8080 }
proxy {
	follow-host "$TMP/environment"
	no-proxy ".vm"
}
EOF
netctl reload >/dev/null || fail "reload refused"
for g in g1 g2; do
	wait_for 5 "$g follows the host" grep -qx "export https_proxy='http://127.0.0.1:3128'" "$TMP/$g-proxy.sh"
	grep -qx "export no_proxy='.vm'" "$TMP/$g-proxy.sh" || fail "$g: no_proxy: $(cat "$TMP/$g-proxy.sh")"
	[ "$(proxied $g "http://$LAN4:8080/")" = "$HOST4" ] || fail "$g: curl through the host's proxy (follow-host)"
done
# The host's file changes; no reload.
echo 'no_proxy="localhost,127.0.0.1"' >>"$TMP/environment"
for g in g1 g2; do
	wait_for 5 "$g follows the file" grep -qx "export no_proxy='localhost,127.0.0.1,.vm'" "$TMP/$g-proxy.sh"
done
sed -i '/proxy/Id' "$TMP/environment"
wait_for 5 "the proxy gone from the file, gone from g1" sh -c "[ ! -e '$TMP/g1-proxy.sh' ] || ! grep -q http_proxy '$TMP/g1-proxy.sh'"
pass "follow-host: the host's file, followed without a reload"

# --- a proxy block with an error: refused, the running one stays -------------------------
echo 'proxy { http "not a url" }' >"$TMP/policy.d/20-bad.conf"
netctl reload 2>"$TMP/reload.err" >/dev/null && fail "a bad proxy block was accepted"
grep -q "20-bad.conf:1:" "$TMP/reload.err" || fail "no file:line: $(cat "$TMP/reload.err")"
pass "a bad proxy block is refused with file:line"
