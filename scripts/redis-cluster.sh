#!/usr/bin/env bash
# A 3-primary Redis Cluster on loopback ports of its own, for the test suites.
#
#   scripts/redis-cluster.sh start DIR   starts it (in DIR), prints its redis-cluster:// URL
#   scripts/redis-cluster.sh stop DIR    stops the nodes started in DIR and removes DIR
#
# Ports come from SATCHEL_CLUSTER_PORTS (default "7301 7302 7303"). Only nodes this script
# started (their pid files in DIR) are stopped. Nothing is kept on disk.
set -euo pipefail
cmd=${1:?start or stop}
dir=${2:?a directory}
read -r -a ports <<<"${SATCHEL_CLUSTER_PORTS:-7301 7302 7303}"

stop() {
  for p in "${ports[@]}"; do
    pidfile="$dir/$p/redis.pid"
    [ -f "$pidfile" ] || continue
    redis-cli -h 127.0.0.1 -p "$p" shutdown nosave >/dev/null 2>&1 || kill "$(cat "$pidfile")" 2>/dev/null || true
  done
  rm -rf "$dir"
}

case "$cmd" in
start)
  stop
  for p in "${ports[@]}"; do
    mkdir -p "$dir/$p"
    redis-server --port "$p" --bind 127.0.0.1 --cluster-enabled yes \
      --cluster-config-file "$dir/$p/nodes.conf" --cluster-node-timeout 2000 \
      --dir "$dir/$p" --pidfile "$dir/$p/redis.pid" --logfile "$dir/$p/redis.log" \
      --save "" --appendonly no --daemonize yes
  done
  for p in "${ports[@]}"; do
    for _ in $(seq 1 50); do
      redis-cli -h 127.0.0.1 -p "$p" ping 2>/dev/null | grep -q PONG && break
      sleep 0.1
    done
  done
  nodes=()
  for p in "${ports[@]}"; do nodes+=("127.0.0.1:$p"); done
  redis-cli --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes >"$dir/create.log" 2>&1 \
    || { cat "$dir/create.log" >&2; exit 1; }
  for _ in $(seq 1 100); do
    ok=1
    for p in "${ports[@]}"; do
      redis-cli -h 127.0.0.1 -p "$p" cluster info 2>/dev/null | grep -q 'cluster_state:ok' || ok=0
    done
    [ "$ok" = 1 ] && break
    sleep 0.1
  done
  [ "$ok" = 1 ] || { echo "the cluster did not become ready" >&2; exit 1; }
  url="redis-cluster://${nodes[0]}"
  sep='?'
  for n in "${nodes[@]:1}"; do url+="${sep}node=$n"; sep='&'; done
  echo "$url"
  ;;
stop) stop ;;
*) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
