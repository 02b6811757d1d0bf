#!/bin/bash
# Contender (b) of the bootstrap benchmark: the same cluster as site.yml, built by `docker`
# and `iptables` commands over SSH with nothing in between, as an operator's script would:
# the firewall chain on every host at once, init, managers joined one at a time, workers in
# parallel, labels, one 3-replica service and a wait until its 3 tasks run. The practical
# lower bound for any tool that drives the engine over SSH.
#
# usage: bare_bootstrap.sh KEY "MANAGER_ADDRS" "WORKER_ADDRS"   (addresses space-separated;
# the first manager initialises the swarm). Prints no token.
set -euo pipefail
key=$1
read -r -a managers <<<"$2"
read -r -a workers <<<"$3"
ssh_opts=(-i "$key" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR
          -o BatchMode=yes -o ConnectTimeout=5)
on() { local addr=$1; shift; ssh "${ssh_opts[@]}" "root@$addr" "$@"; }
first=${managers[0]}

# The firewall: the chain the swarm_firewall role keeps (swarm ports accepted from each
# member's address, dropped from anywhere else, 2377/tcp on managers only), loaded
# atomically with iptables-restore, hooked first in INPUT, and saved for a restore at boot.
firewall_rules() {  # $1: "manager" or "worker"
  local ports=("tcp 7946" "udp 7946" "udp 4789") net p
  [ "$1" = manager ] && ports=("tcp 2377" "${ports[@]}")
  echo "*filter"
  echo ":SWARMOPS-INPUT - [0:0]"
  echo "-F SWARMOPS-INPUT"
  for net in "${managers[@]}" "${workers[@]}"; do
    for p in "${ports[@]}"; do set -- $p; echo "-A SWARMOPS-INPUT -s $net/32 -p $1 -m $1 --dport $2 -j ACCEPT"; done
  done
  for p in "${ports[@]}"; do set -- $p; echo "-A SWARMOPS-INPUT -p $1 -m $1 --dport $2 -j DROP"; done
  echo "-A SWARMOPS-INPUT -p esp -j DROP"
  echo "COMMIT"
}
firewall() {  # $1: address, $2: role
  firewall_rules "$2" | on "$1" 'iptables-restore --noflush &&
    { iptables -C INPUT -j SWARMOPS-INPUT 2>/dev/null || iptables -I INPUT 1 -j SWARMOPS-INPUT; } &&
    mkdir -p /etc/iptables && iptables-save -t filter > /etc/iptables/swarmops.v4'
}
pids=()
for m in "${managers[@]}"; do firewall "$m" manager & pids+=($!); done
for w in "${workers[@]}"; do firewall "$w" worker & pids+=($!); done
for p in "${pids[@]}"; do wait "$p"; done

# The swarm: init on the first manager, both join tokens in one call, kept in variables only.
on "$first" "docker swarm init --advertise-addr $first --default-addr-pool 10.128.0.0/16 \
  --default-addr-pool-mask-length 24 >/dev/null"
read -r manager_token worker_token < <(on "$first" \
  'echo $(docker swarm join-token -q manager) $(docker swarm join-token -q worker)')
for m in "${managers[@]:1}"; do
  on "$m" "docker swarm join --advertise-addr $m --token $manager_token $first:2377 >/dev/null"
done
pids=()
for w in "${workers[@]}"; do
  on "$w" "docker swarm join --advertise-addr $w --token $worker_token $first:2377 >/dev/null" & pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done

# Labels (every node bench.zone=lab, workers bench.tier=app), the service, and the wait, in
# one call on the first manager: node names are the hosts' hostnames.
on "$first" 'set -e
  for n in $(docker node ls --format "{{.Hostname}}"); do
    case $n in
      worker*) docker node update --label-add bench.zone=lab --label-add bench.tier=app "$n" >/dev/null ;;
      *) docker node update --label-add bench.zone=lab "$n" >/dev/null ;;
    esac
  done
  docker service create --detach --name web --replicas 3 swarmops/probe:1 >/dev/null 2>&1
  for _ in $(seq 600); do
    running=$(docker service ps web --filter desired-state=running --format "{{.CurrentState}}" | grep -c "^Running" || true)
    [ "$running" -ge 3 ] && exit 0
    sleep 0.1
  done
  echo "web: 3 tasks not running after 60 s" >&2; exit 1'
