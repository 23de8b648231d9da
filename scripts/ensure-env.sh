#!/usr/bin/env bash
# Makes a fresh machine ready: Bun, the locked dependencies, and local RabbitMQ and Redis when
# the service is pointed at them (the defaults) and they do not answer. Safe to run repeatedly.
# Sourced by scripts/start.sh and scripts/test.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

BUN_VERSION=1.4.4
STATE_DIR=${XDG_STATE_HOME:-$HOME/.local/state}/order-pipeline
say() { printf '[setup] %s\n' "$*" >&2; }
fail() {
  say "$*"
  exit 1
}

sudo_if_needed() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Runs a command quietly; when it fails, shows its output once and says what failed.
run_or_explain() {
  local what=$1 output
  shift
  if ! output=$("$@" 2>&1); then
    printf '%s\n' "$output" >&2
    fail "$what failed (command: $*)"
  fi
}

apt_updated=false
apt_install() {
  say "installing $* (Debian packages)"
  command -v apt-get >/dev/null 2>&1 || fail "cannot install $*: this machine has no apt-get; install them yourself"
  if [ "$apt_updated" = false ]; then
    run_or_explain "apt-get update" sudo_if_needed apt-get update -qq
    apt_updated=true
  fi
  run_or_explain "installing $*" sudo_if_needed env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "$@"
}

ensure_bun() {
  if command -v bun >/dev/null 2>&1; then return; fi
  if [ -x "$HOME/.bun/bin/bun" ]; then
    export PATH="$HOME/.bun/bin:$PATH"
    return
  fi
  # Bun comes from the npm registry; npm comes from Debian when the machine has none.
  command -v npm >/dev/null 2>&1 || apt_install npm ca-certificates
  say "installing Bun $BUN_VERSION (npm install -g bun@$BUN_VERSION)"
  run_or_explain "installing Bun" sudo_if_needed npm install -g "bun@$BUN_VERSION"
  command -v bun >/dev/null 2>&1 || fail "npm installed Bun but 'bun' is not on PATH ($(npm prefix -g)/bin)"
}

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

wait_for_port() {
  local host=$1 port=$2 name=$3 seconds=${4:-60}
  for _ in $(seq 1 "$seconds"); do
    if port_open "$host" "$port"; then return 0; fi
    sleep 1
  done
  return 1
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
  # With AOF, as the docs say to run Redis: an accepted order survives a Redis restart.
  local dir=$STATE_DIR/redis-$port
  mkdir -p "$dir"
  say "starting Redis on 127.0.0.1:$port (AOF in $dir)"
  run_or_explain "starting Redis" redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --dir "$dir" \
    --appendonly yes --appendfsync everysec --logfile "$dir/redis.log"
  wait_for_port 127.0.0.1 "$port" Redis 30 || fail "Redis did not come up on 127.0.0.1:$port: see $dir/redis.log"
}

# A RabbitMQ node of the service's own, named after its port, with its own files and cookie:
# another RabbitMQ on this machine shares epmd, and two nodes of one name cannot run. Started
# from RabbitMQ's own scripts (Debian's /usr/sbin wrapper switches user and drops this setup).
ensure_rabbitmq() {
  local url=${AMQP_URL:-amqp://guest:guest@127.0.0.1:5672}
  is_local "$url" || return 0
  local port
  port=$(port_of "$url" 5672)
  port_open 127.0.0.1 "$port" && return 0
  local bin=/usr/lib/rabbitmq/bin
  [ -x "$bin/rabbitmq-server" ] || apt_install rabbitmq-server
  [ -x "$bin/rabbitmq-server" ] || fail "rabbitmq-server is installed, but not in $bin"
  # Erlang reaches its node through epmd on "localhost".
  getent hosts localhost >/dev/null 2>&1 ||
    fail "the name localhost does not resolve here (RabbitMQ needs it): add '127.0.0.1 localhost' to /etc/hosts"
  local node="order-pipeline-$port@localhost" dir=$STATE_DIR/rabbitmq-$port
  mkdir -p "$dir/home" "$dir/mnesia" "$dir/log"
  if [ ! -f "$dir/home/.erlang.cookie" ]; then
    (umask 077 && head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$dir/home/.erlang.cookie")
  fi
  # Files of its own for what a RabbitMQ installation configures in /etc/rabbitmq; no plugins
  # (those of another RabbitMQ here, management or prometheus, would want its ports).
  touch "$dir/rabbitmq-env.conf" "$dir/rabbitmq.conf"
  [ -f "$dir/enabled_plugins" ] || echo '[].' >"$dir/enabled_plugins"
  local environment=(
    HOME="$dir/home"
    LANG=C.UTF-8
    RABBITMQ_NODENAME="$node"
    RABBITMQ_CONF_ENV_FILE="$dir/rabbitmq-env.conf"
    RABBITMQ_CONFIG_FILE="$dir/rabbitmq.conf"
    RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins"
    RABBITMQ_MNESIA_BASE="$dir/mnesia"
    RABBITMQ_LOG_BASE="$dir/log"
    RABBITMQ_PID_FILE="$dir/rabbitmq.pid"
    RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
    RABBITMQ_NODE_PORT="$port"
    RABBITMQ_DIST_PORT=$((port + 20000))
  )
  say "starting RabbitMQ node $node on 127.0.0.1:$port (data in $dir)"
  env "${environment[@]}" setsid nohup "$bin/rabbitmq-server" >"$dir/server.log" 2>&1 </dev/null &
  local server=$!
  # The port opens before the broker accepts clients: wait until this node reports running.
  for _ in $(seq 1 90); do
    if env "${environment[@]}" "$bin/rabbitmqctl" -n "$node" -q await_startup --timeout 5 >/dev/null 2>&1; then
      return 0
    fi
    kill -0 "$server" 2>/dev/null || break
    sleep 1
  done
  say "RabbitMQ node $node did not start on 127.0.0.1:$port. Its output:"
  tail -n 30 "$dir/server.log" >&2
  exit 1
}

ensure_bun
if [ ! -d node_modules ] || [ package.json -nt node_modules ] || [ bun.lock -nt node_modules ]; then
  say "installing dependencies"
  run_or_explain "bun install" bun install --frozen-lockfile
  touch node_modules
fi
ensure_redis
ensure_rabbitmq
