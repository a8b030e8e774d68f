#!/bin/sh
# tests/netns/portfwd-relay.sh - portfwd.sh with host-netd relaying every
# connection itself (VMN_FWD_HANDOFF=0): the path VMs always take, and
# namespace guests whose guest-netd does not take handed sockets.
VMN_FWD_HANDOFF=0 exec "$(dirname "$0")/portfwd.sh"
