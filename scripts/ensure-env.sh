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

is_local() { case "$1" in *127.0.0.1*|*localhost*) return 0 ;; *) return 1 ;; esac; }

ensure_redis() {
  local url=${REDIS_URL:-redis://127.0.0.1:6379}
  is_local "$url" || return 0
  port_open 127.0.0.1 6379 && return 0
  command -v redis-server >/dev/null 2>&1 || apt_install redis-server
  say "starting Redis on 127.0.0.1:6379"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null
  wait_for_port 127.0.0.1 6379 Redis 30
}

ensure_rabbitmq() {
  local url=${AMQP_URL:-amqp://guest:guest@127.0.0.1:5672}
  is_local "$url" || return 0
  port_open 127.0.0.1 5672 && return 0
  command -v rabbitmq-server >/dev/null 2>&1 || apt_install rabbitmq-server
  say "starting RabbitMQ on 127.0.0.1:5672"
  sudo_if_needed rabbitmq-server -detached >/dev/null 2>&1 || true
  wait_for_port 127.0.0.1 5672 RabbitMQ 90
  # The port opens before the broker accepts clients; wait until it reports running.
  for _ in $(seq 1 60); do
    sudo_if_needed rabbitmqctl -q await_startup >/dev/null 2>&1 && return 0
    sleep 1
  done
}

ensure_bun
if [ ! -d node_modules ] || [ package.json -nt node_modules ] || [ bun.lock -nt node_modules ]; then
  say "installing dependencies"
  bun install --frozen-lockfile >/dev/null
  touch node_modules
fi
ensure_redis
ensure_rabbitmq
