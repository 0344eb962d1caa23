#!/usr/bin/env bash
# `make run`: Azurite (data under .local/azurite) + the local Functions host on 127.0.0.1:$PORT.
# Ctrl-C (or either process ending) stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT="${PORT:-7071}"
PY="${PY:-.venv/bin/python}"
mkdir -p .local/azurite

node_modules/.bin/azurite --silent --location .local/azurite \
  --skipApiVersionCheck --disableTelemetry --loose &
AZURITE_PID=$!
trap 'kill "$AZURITE_PID" 2>/dev/null || true; wait "$AZURITE_PID" 2>/dev/null || true' EXIT INT TERM

"$PY" -m tools.devserver --host 127.0.0.1 --port "$PORT" &
HOST_PID=$!
trap 'kill "$HOST_PID" "$AZURITE_PID" 2>/dev/null || true; wait 2>/dev/null || true' EXIT INT TERM
wait -n "$HOST_PID" "$AZURITE_PID"
