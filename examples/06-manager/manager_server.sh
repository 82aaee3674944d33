#!/bin/sh
# manager_server.sh: run by examples/run.sh with the built manager_server as $1.
# It starts the server, lets an unchanged CPython program use its objects
# (manager_client.py), then stops the server with SIGTERM, as a service manager would.
set -eu
server=$1
python=${PYTHON:-python3}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
address=$dir/manager.sock

"$server" "$address" example-key >"$dir/server.out" 2>&1 &
pid=$!
for _ in $(seq 100); do [ -S "$address" ] && break; sleep 0.05; done

if command -v "$python" >/dev/null 2>&1; then
	status=0
	timeout 60 "$python" "$(dirname "$0")/manager_client.py" "$address" example-key || status=$?
else
	echo "manager_server.sh: $python not found: the server started, but no Python client used it"
	status=0
fi
kill -TERM "$pid"
wait "$pid" || status=$?
cat "$dir/server.out"
exit "$status"
