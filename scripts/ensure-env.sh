#!/usr/bin/env bash
# Makes a fresh machine ready: Bun, the locked dependencies, and local RabbitMQ and Redis when
# the service is pointed at them (the defaults) and they do not answer. Safe to run repeatedly.
set -euo pipefail
cd "$(dirname "$0")/.."

BUN_VERSION=1.4.4
say() { printf '[setup] %s\n' "$*" >&2; }

ensure_bun() {
  if command -v bun >/dev/null 2>&1; then return; fi
  if [ -x "$HOME/.bun/bin/bun" ]; then export PATH="$HOME/.bun/bin:$PATH"; return; fi
  say "installing Bun $BUN_VERSION"
  if command -v npm >/dev/null 2>&1; then
    npm install -g "bun@$BUN_VERSION" >/dev/null 2>&1 || sudo_if_needed npm install -g "bun@$BUN_VERSION" >/dev/null
  else
    # Bun's installer downloads with curl and unpacks with unzip: a minimal Debian has neither.
    local missing=()
    for tool in curl unzip; do command -v "$tool" >/dev/null 2>&1 || missing+=("$tool"); done
    if [ ${#missing[@]} -gt 0 ]; then apt_install "${missing[@]}" ca-certificates; fi
    curl -fsSL https://bun.sh/install | bash -s "bun-v$BUN_VERSION"
    export PATH="$HOME/.bun/bin:$PATH"
  fi
}

sudo_if_needed() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

wait_for_port() {
  local host=$1 port=$2 name=$3 seconds=${4:-60}
  for _ in $(seq 1 "$seconds"); do
    if port_open "$host" "$port"; then return 0; fi
    sleep 1
  done
  say "$name did not come up on $host:$port within ${seconds}s"
  return 1
}

apt_install() {
  say "installing $* (Debian packages)"
  sudo_if_needed apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive sudo_if_needed apt-get install -y -qq "$@" >/dev/null
}

is_local() {
  case "$1" in
    *@127.0.0.1[:/]*|*//127.0.0.1[:/]*|*@localhost[:/]*|*//localhost[:/]*) return 0 ;;
    *@127.0.0.1|*//127.0.0.1|*@localhost|*//localhost) return 0 ;;
    *) return 1 ;;
  esac
}

# The port a URL names, or the default.
port_of() {
  local url=$1 default=$2
  if [[ $url =~ ://([^@/]*@)?[^:/]+:([0-9]+) ]]; then echo "${BASH_REMATCH[2]}"; else echo "$default"; fi
}

ensure_redis() {
  local url=${REDIS_URL:-redis://127.0.0.1:6379}
  is_local "$url" || return 0
  local port
  port=$(port_of "$url" 6379)
  port_open 127.0.0.1 "$port" && return 0
  command -v redis-server >/dev/null 2>&1 || apt_install redis-server
  # With AOF, as the README says to run Redis: an accepted order survives a Redis restart.
  local dir=${XDG_STATE_HOME:-$HOME/.local/state}/order-pipeline/redis-$port
  mkdir -p "$dir"
  say "starting Redis on 127.0.0.1:$port (AOF in $dir)"
  redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --dir "$dir" \
    --appendonly yes --appendfsync everysec >/dev/null
  wait_for_port 127.0.0.1 "$port" Redis 30
}

ensure_rabbitmq() {
  local url=${AMQP_URL:-amqp://guest:guest@127.0.0.1:5672}
  is_local "$url" || return 0
  local port
  port=$(port_of "$url" 5672)
  port_open 127.0.0.1 "$port" && return 0
  command -v rabbitmq-server >/dev/null 2>&1 || apt_install rabbitmq-server
  say "starting RabbitMQ on 127.0.0.1:$port"
  sudo_if_needed env RABBITMQ_NODE_PORT="$port" rabbitmq-server -detached >/dev/null 2>&1 || true
  wait_for_port 127.0.0.1 "$port" RabbitMQ 90
  # The port opens before the broker accepts clients; wait until it reports running.
  for _ in $(seq 1 60); do
    sudo_if_needed rabbitmqctl -q await_startup >/dev/null 2>&1 && return 0
    sleep 1
  done
  say "RabbitMQ on 127.0.0.1:$port did not finish starting within 60s (rabbitmqctl await_startup)"
  return 1
}

ensure_bun
if [ ! -d node_modules ] || [ package.json -nt node_modules ] || [ bun.lock -nt node_modules ]; then
  say "installing dependencies"
  bun install --frozen-lockfile >/dev/null
  touch node_modules
fi
ensure_redis
ensure_rabbitmq
