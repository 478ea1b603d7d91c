#!/bin/sh
# Coop process entrypoint, shared by the container images, join.sh/systemd and the multi-host tests, so a process
# starts the same way everywhere.
#
#   entrypoint.sh coordinator [coop up flags...]
#   entrypoint.sh agent [coop agent flags...]
#   entrypoint.sh status [--api URL]   print the cluster status table (COOP_API_TOKEN for auth)
#   entrypoint.sh healthcheck          exit 0 when this container's process is healthy
#   entrypoint.sh <command> [args...]  run anything else (e.g. `sh`, `deno`)
#
# NATS connection settings come from the environment and are read by the processes themselves:
#   COOP_NATS_URL, COOP_NATS_USER, COOP_NATS_PASSWORD, COOP_NATS_TOKEN, COOP_NATS_NKEY_SEED(_FILE), COOP_NATS_CREDS,
#   COOP_NATS_TLS_CA, COOP_NATS_TLS_CERT, COOP_NATS_TLS_KEY, COOP_CLUSTER (subject namespace), COOP_API_TOKEN,
#   COOP_NATS_REPLICAS (JetStream replicas, 3 on a 3-server NATS), COOP_HOST_NATS_NKEY_SEED_FILE (agents: the seed
#   their actor hosts connect with, per-role credentials from `coop creds`), COOP_NATS_ACCOUNT_SIGNING_SEED_FILE and
#   optionally COOP_NATS_ACCOUNT (agents in JWT mode, `coop creds --jwt`: the account signing key each actor host's
#   own credential is minted with), COOP_WEIGHTS_DIR (agents: the weight segment directory; a tmpfs outside /dev,
#   since sandboxed actor hosts may not open /dev/shm).
# Flags are built from these variables (so compose/k8s/systemd configure everything through env); explicit
# arguments are appended after them:
#   both:        COOP_CLUSTER (--cluster)
#   coordinator: COOP_API_PORT (--api-port), COOP_API_HOST (--api-host), COOP_NODE_TIMEOUT_MS (--node-timeout-ms)
#   agent:       COOP_NODE_ID (--node-id), COOP_AGENT_CPUS (--cpus), COOP_AGENT_GPUS (--gpus, e.g. 0,1),
#                COOP_AGENT_MEMORY_MB (--memory-mb), COOP_HEARTBEAT_MS (--heartbeat-ms),
#                COOP_AGENT_RESOURCES / COOP_AGENT_LABELS / COOP_AGENT_REGISTRY (comma or space separated items,
#                one --resource name=qty / --label k=v / --registry module each)
#   COOP_OFFLINE=1 runs Deno with --cached-only (images: every dependency was cached at build time).
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

EXTRA=""
# Appends `FLAG value` when the variable is set and not empty.
opt() {
  eval "value=\${$2:-}"
  # shellcheck disable=SC2154 # set by eval
  [ -n "$value" ] && EXTRA="$EXTRA $1 $value"
  return 0
}

# Appends one `FLAG item` per item of a comma/space separated list variable.
opt_list() {
  eval "value=\${$2:-}"
  for item in $(printf '%s' "$value" | tr ',' ' '); do
    EXTRA="$EXTRA $1 $item"
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
    opt --cluster COOP_CLUSTER
    opt --api-port COOP_API_PORT
    opt --api-host COOP_API_HOST
    opt --node-timeout-ms COOP_NODE_TIMEOUT_MS
    # shellcheck disable=SC2086 # EXTRA holds whitespace-free flag/value pairs
    run_coop up $EXTRA "$@"
    ;;
  agent)
    opt --cluster COOP_CLUSTER
    opt --node-id COOP_NODE_ID
    opt --cpus COOP_AGENT_CPUS
    opt --gpus COOP_AGENT_GPUS
    opt --memory-mb COOP_AGENT_MEMORY_MB
    opt --heartbeat-ms COOP_HEARTBEAT_MS
    opt_list --resource COOP_AGENT_RESOURCES
    opt_list --label COOP_AGENT_LABELS
    opt_list --registry COOP_AGENT_REGISTRY
    # shellcheck disable=SC2086
    run_coop agent $EXTRA "$@"
    ;;
  status)
    run_coop status "$@"
    ;;
  healthcheck)
    DENO=$(find_deno)
    exec "$DENO" run -A "$COOP_HOME/deploy/healthcheck.ts" # -A: Deno wants full access to read /proc
    ;;
  *)
    exec "$role" "$@"
    ;;
esac
