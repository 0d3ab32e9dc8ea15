#!/usr/bin/env bash
# Start N server processes on one machine against the local Redis and PostgreSQL.
#   deploy/run-cluster.sh [N=3] [FIRST_PORT=8081]
# Each process gets its own port, NODE_ID and PUBLIC_URL; put deploy/nginx.conf in front for one
# address. Ctrl-C stops them all (SIGTERM: each drains its calls first).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-3}
FIRST_PORT=${2:-8081}
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
export DATABASE_URL=${DATABASE_URL:-postgresql+asyncpg://postgres@127.0.0.1:5432/videocall}
export SERVICE_HOURS=${SERVICE_HOURS:-always}
export DATA_DIR=${DATA_DIR:-data/cluster}
export SECRET_KEY=${SECRET_KEY:-$(cat "$DATA_DIR/secret_key" 2>/dev/null || (mkdir -p "$DATA_DIR" && head -c 32 /dev/urandom | base64 | tee "$DATA_DIR/secret_key"))}
db=${DATABASE_URL##*/}
psql -h 127.0.0.1 -U postgres -tc "SELECT 1 FROM pg_database WHERE datname='$db'" | grep -q 1 \
  || psql -h 127.0.0.1 -U postgres -c "CREATE DATABASE \"$db\"" >/dev/null
.venv/bin/python -m videocall.adapters.migrate
pids=()
trap 'kill -TERM "${pids[@]}" 2>/dev/null; wait' INT TERM EXIT
# A local TURN relay (coturn, deploy/turnserver.conf for production) with the REST secret the
# nodes issue credentials for, unless TURN_URLS points elsewhere. TURN_PORT=0 skips it.
TURN_PORT=${TURN_PORT:-3478}
if [ -z "${TURN_URLS:-}" ] && [ "$TURN_PORT" != 0 ] && command -v turnserver >/dev/null; then
  export TURN_SECRET=${TURN_SECRET:-$(cat "$DATA_DIR/turn_secret" 2>/dev/null || head -c 24 /dev/urandom | base64 | tr -d '/+=' | tee "$DATA_DIR/turn_secret")}
  export TURN_URLS="turn:127.0.0.1:$TURN_PORT?transport=udp,turn:127.0.0.1:$TURN_PORT?transport=tcp"
  turnserver -n --listening-ip=127.0.0.1 --relay-ip=127.0.0.1 --listening-port="$TURN_PORT" \
    --use-auth-secret --static-auth-secret="$TURN_SECRET" --realm=videocall.local \
    --no-tls --no-dtls --no-cli --allow-loopback-peers --db="$DATA_DIR/turndb" \
    --log-file="$DATA_DIR/turn.log" --simple-log --pidfile="$DATA_DIR/turn.pid" &
  pids+=($!)
  echo "coturn: turn:127.0.0.1:$TURN_PORT (udp, tcp; pid $!)"
fi
# A page loaded through nginx (or from one node) opens /media on whichever node hosts the call:
# every node accepts the origins of all of them and of the proxy (PUBLIC_ORIGINS).
if [ -z "${PUBLIC_ORIGINS:-}" ]; then
  origins="${PROXY_ORIGIN:-http://127.0.0.1:8080}"  # the proxy, e.g. https://verify.example.id
  for i in $(seq 0 $((N - 1))); do origins="$origins,http://127.0.0.1:$((FIRST_PORT + i))"; done
  export PUBLIC_ORIGINS="$origins"
fi
for i in $(seq 0 $((N - 1))); do
  port=$((FIRST_PORT + i))
  NODE_ID="node-$port" PUBLIC_URL="http://127.0.0.1:$port" \
    .venv/bin/python server.py --port "$port" --no-migrate &
  pids+=($!)
  echo "node-$port: http://127.0.0.1:$port (pid $!)"
done
wait
