#!/usr/bin/env bash
# Builds Caddy with this plugin (xcaddy, pinned in go.mod as a tool) and runs it.
#   ./xcaddy.sh build              → ./caddy
#   ./xcaddy.sh run [Caddyfile]    → build, then run (default: examples/quickstart/Caddyfile)
#   ./xcaddy.sh test               → the test command of the README
set -euo pipefail
cd "$(dirname "$0")"

CADDY_VERSION=v2.11.9
# The module is not published, so pin the local replacement to the zero
# pseudo-version; xcaddy then skips the version lookup.
PLUGIN="github.com/applinks/caddy-applinks@v0.0.0-00010101000000-000000000000=."

build() {
	command -v go >/dev/null || { echo "Go is required: https://go.dev/dl/" >&2; exit 1; }
	go tool xcaddy build "$CADDY_VERSION" --output ./caddy --with "$PLUGIN"
}

cmd="${1:-run}"
[ $# -gt 0 ] && shift
case "$cmd" in
build)
	build
	;;
run)
	build
	config="${1:-examples/quickstart/Caddyfile}"
	exec ./caddy run --config "$config" --adapter caddyfile
	;;
test)
	# Exactly the README's test command; -race needs cgo and a C compiler (gcc).
	exec go test -race ./...
	;;
*)
	echo "usage: $0 build | run [Caddyfile] | test" >&2
	exit 2
	;;
esac
