#!/bin/sh
# Coop process entrypoint, shared by the container images, join.sh/systemd and the multi-host tests, so a process
# starts the same way everywhere.
#
#   entrypoint.sh coordinator [coop up flags...]
#   entrypoint.sh agent [coop agent flags...]
#   entrypoint.sh healthcheck          exit 0 when this container's process is healthy
#   entrypoint.sh <command> [args...]  run anything else (e.g. `sh`, `deno`)
#
# NATS connection settings come from the environment and are read by the processes themselves:
#   COOP_NATS_URL, COOP_NATS_USER, COOP_NATS_PASSWORD, COOP_NATS_TOKEN, COOP_NATS_NKEY_SEED(_FILE), COOP_NATS_CREDS,
#   COOP_NATS_TLS_CA, COOP_NATS_TLS_CERT, COOP_NATS_TLS_KEY, COOP_CLUSTER (subject namespace), COOP_API_TOKEN.
# Flags are built from these variables (so compose/k8s/systemd configure everything through env); explicit
# arguments are appended after them:
#   COOP_API_PORT                 coordinator: --api-port
#   COOP_AGENT_CPUS               agent: --cpus
#   COOP_AGENT_GPUS               agent: --gpus (e.g. 0,1)
#   COOP_AGENT_RESOURCES          agent: space/comma separated name=qty, one --resource each
#   COOP_AGENT_LABELS             agent: space/comma separated k=v, one --label each
#   COOP_OFFLINE=1                run with --cached-only (images: every dependency was cached at build time)
set -eu

COOP_HOME=${COOP_HOME:-$(cd "$(dirname "$0")/.." && pwd)}
export COOP_HOME

find_deno() {
  if [ -n "${COOP_DENO:-}" ]; then echo "$COOP_DENO"; return; fi
  if command -v deno >/dev/null 2>&1; then command -v deno; return; fi
  if [ -x "$COOP_HOME/.tools/node_modules/.bin/deno" ]; then echo "$COOP_HOME/.tools/node_modules/.bin/deno"; return; fi
  echo "coop-entrypoint: deno not found (set COOP_DENO or put deno on PATH)" >&2
  exit 127
}

# Splits "a=1,b=2 c=3" into repeated `--flag a=1 --flag b=2 --flag c=3` arguments.
add_list() {
  flag=$1
  list=$(printf '%s' "$2" | tr ',' ' ')
  for item in $list; do
    EXTRA="$EXTRA $flag $item"
  done
}

run_coop() {
  sub=$1
  shift
  DENO=$(find_deno)
  export COOP_DENO="$DENO"
  cd "$COOP_HOME"
  if [ "${COOP_OFFLINE:-0}" = 1 ]; then
    exec "$DENO" run -A --cached-only coordinator/cli.ts "$sub" "$@"
  fi
  exec "$DENO" run -A coordinator/cli.ts "$sub" "$@"
}

role=${1:-coordinator}
[ $# -gt 0 ] && shift

case "$role" in
  coordinator|up)
    EXTRA=""
    [ -n "${COOP_API_PORT:-}" ] && EXTRA="--api-port $COOP_API_PORT"
    # shellcheck disable=SC2086 # EXTRA holds whitespace-free flag/value pairs
    run_coop up $EXTRA "$@"
    ;;
  agent)
    EXTRA=""
    [ -n "${COOP_AGENT_CPUS:-}" ] && EXTRA="$EXTRA --cpus $COOP_AGENT_CPUS"
    [ -n "${COOP_AGENT_GPUS:-}" ] && EXTRA="$EXTRA --gpus $COOP_AGENT_GPUS"
    add_list --resource "${COOP_AGENT_RESOURCES:-}"
    add_list --label "${COOP_AGENT_LABELS:-}"
    # shellcheck disable=SC2086
    run_coop agent $EXTRA "$@"
    ;;
  healthcheck)
    DENO=$(find_deno)
    exec "$DENO" run --allow-net --allow-env --allow-read=/proc "$COOP_HOME/deploy/healthcheck.ts"
    ;;
  *)
    exec "$role" "$@"
    ;;
esac
