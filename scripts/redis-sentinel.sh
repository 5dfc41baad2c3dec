#!/usr/bin/env bash
# A Redis primary, one replica and three sentinels on loopback ports of their own, for the
# test suites.
#
#   scripts/redis-sentinel.sh start DIR   starts them (in DIR), prints the redis-sentinel:// URL
#   scripts/redis-sentinel.sh stop DIR    stops what was started in DIR and removes DIR
#
# Ports: primary 7401, replica 7402, sentinels 26401-26403 (SATCHEL_SENTINEL_BASE moves the
# first two, SATCHEL_SENTINEL_PORTS the others). The service is `satchel`; a primary that
# does not answer for 1 s is failed over. Only processes with pid files in DIR are stopped.
set -euo pipefail
cmd=${1:?start or stop}
dir=${2:?a directory}
base=${SATCHEL_SENTINEL_BASE:-7401}
primary=$base
replica=$((base + 1))
read -r -a sentinels <<<"${SATCHEL_SENTINEL_PORTS:-26401 26402 26403}"

stop() {
  for p in "${sentinels[@]}" "$primary" "$replica"; do
    pidfile="$dir/$p/redis.pid"
    [ -f "$pidfile" ] || continue
    kill "$(cat "$pidfile")" 2>/dev/null || true
  done
  rm -rf "$dir"
}

up() {
  for _ in $(seq 1 50); do
    redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null | grep -q PONG && return 0
    sleep 0.1
  done
  echo "nothing answers on port $1" >&2
  return 1
}

case "$cmd" in
start)
  stop
  for p in "$primary" "$replica"; do
    mkdir -p "$dir/$p"
    extra=()
    [ "$p" = "$replica" ] && extra=(--replicaof 127.0.0.1 "$primary")
    redis-server --port "$p" --bind 127.0.0.1 --dir "$dir/$p" --pidfile "$dir/$p/redis.pid" \
      --logfile "$dir/$p/redis.log" --save "" --appendonly no --daemonize yes "${extra[@]}"
    up "$p"
  done
  for p in "${sentinels[@]}"; do
    mkdir -p "$dir/$p"
    cat >"$dir/$p/sentinel.conf" <<CONF
port $p
bind 127.0.0.1
daemonize yes
dir $dir/$p
pidfile $dir/$p/redis.pid
logfile $dir/$p/sentinel.log
sentinel monitor satchel 127.0.0.1 $primary 2
sentinel down-after-milliseconds satchel 1000
sentinel failover-timeout satchel 5000
sentinel parallel-syncs satchel 1
CONF
    # redis-sentinel is redis-server in sentinel mode (Debian ships only redis-server).
    redis-server "$dir/$p/sentinel.conf" --sentinel
    up "$p"
  done
  # Ready when the replica is in sync and every sentinel knows the primary.
  for _ in $(seq 1 100); do
    ready=1
    redis-cli -h 127.0.0.1 -p "$replica" info replication | grep -q 'master_link_status:up' || ready=0
    for p in "${sentinels[@]}"; do
      redis-cli -h 127.0.0.1 -p "$p" sentinel get-master-addr-by-name satchel 2>/dev/null \
        | grep -q "$primary" || ready=0
    done
    [ "$ready" = 1 ] && break
    sleep 0.1
  done
  [ "$ready" = 1 ] || { echo "the sentinels did not become ready" >&2; exit 1; }
  url="redis-sentinel://127.0.0.1:${sentinels[0]}?sentinelServiceName=satchel"
  for n in "${sentinels[@]:1}"; do url+="&node=127.0.0.1:$n"; done
  echo "$url"
  ;;
stop) stop ;;
*) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
