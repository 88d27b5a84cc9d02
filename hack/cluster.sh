#!/usr/bin/env bash
# cluster.sh up|down|status|env|purge — a real single-node Kubernetes for tests.
#
# Every component is the real thing (see docs/local-cluster.md for the recipe
# and the pitfalls it works around): etcd and containerd from Debian,
# kube-apiserver, kube-controller-manager, kube-scheduler, kubelet and
# kube-proxy v1.36.x from hack/build-k8s.sh, images from hack/build-images.sh.
#
#   up       build (cached) → network → certs → start everything → wait Ready
#   down     stop only the PIDs `up` recorded; remove every link, mount, netns,
#            route and KUBE-* rule it created. Safe to run any number of times,
#            and after a half-finished `up`.
#   status   which recorded processes are alive, and the node
#   env      `export KUBECONFIG=…` (and PATH with kubectl), for `eval "$(…)"`
#   purge    down, then delete $SVCT_ROOT (logs included)
#
# Knobs (environment):
#   PROXY_MODE=iptables|nftables   kube-proxy mode (default iptables)
#   SVCT_IP_FAMILY=auto|dual|ipv4  dual-stack, IPv4 only, or (default) dual-stack
#                                  when the host has working IPv6, else IPv4
#   SVCT_NO_BUILD=1                don't call build-k8s.sh/build-images.sh
#   SVCT_KEEP_ON_FAILURE=1         leave a failed `up` running, for debugging
#   SVCT_CLUSTER_OWNER=TOKEN       `up` records who owns the cluster (default "manual")
#   SVCT_DOWN_ONLY_IF_OWNER=TOKEN  `down` does nothing unless TOKEN owns the cluster:
#                                  scripts sharing the machine never tear down a
#                                  cluster someone else brought up
#
# Layout: state in $SVCT_ROOT/run (wiped by down), logs in $SVCT_ROOT/logs
# (kept by down, so a failure can be read afterwards; rotated by up), sockets,
# containerd state and pod netns under /run/svct.
#
# The cluster uses fixed addresses: node 10.250.0.10 + fd00:10:250::10 on an
# empty bridge `svctnode` (this kernel has no dummy driver; 10.250.0.0/24 and
# fd00:10:250::/64 are routed to it, for load-balancer VIPs), pods on `svctbr0`
# 10.244.0.0/24 + fd00:10:244::/64, Services 10.96.0.0/16 + fd00:10:96::/112,
# and loopback ports 2379 2380 6443 10248 10249 10256 10257 10259, plus 10250
# on the node IP. Packets to those ranges are dropped on the uplink, so
# nothing the tests do leaves the machine.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

K8S_VERSION=${K8S_VERSION:-v1.36.3}
PROXY_MODE=${PROXY_MODE:-iptables}
SVCT_IP_FAMILY=${SVCT_IP_FAMILY:-auto}
NODE=node1
NODE_IP4=10.250.0.10
NODE_IP6=fd00:10:250::10
SVC_CIDR4=10.96.0.0/16
SVC_CIDR6=fd00:10:96::/112
POD_CIDR4=10.244.0.0/24
POD_CIDR6=fd00:10:244::/64
CLUSTER_CIDR4=10.244.0.0/16
CLUSTER_CIDR6=fd00:10:244::/56
CLUSTER_DNS=10.96.0.10
NODE_NET4=10.250.0.0/24      # node IP + load-balancer VIPs (e.g. 10.250.0.100)
NODE_NET6=fd00:10:250::/64
NODE_BR=svctnode
POD_BR=svctbr0
RULE_TAG=svc-trace-e2e   # comment on every iptables rule this script adds

R=$SVCT_ROOT/run
P=$R/pki
PIDS=$R/pids
LOGS=$SVCT_ROOT/logs
RUNDIR=/run/svct
SOCK=$RUNDIR/containerd/containerd.sock
K8S_BIN=$SVCT_CACHE/k8s/$K8S_VERSION/bin
KUBECONFIG_ADMIN=$P/admin.kubeconfig

die() { log "ERROR: $*"; exit 1; }

dual() { [[ $SVCT_IP_FAMILY == dual ]]; }

kc() { "$K8S_BIN/kubectl" --kubeconfig "$KUBECONFIG_ADMIN" "$@"; }

# ---------------------------------------------------------------- processes

# pid_start_time PID prints field 22 of /proc/PID/stat (start time in ticks),
# which together with the PID identifies a process even if the PID is reused.
pid_start_time() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }            # drop "pid (comm) ", comm may contain spaces
  awk '{print $20}' <<<"$stat" # field 22 overall = 20th after comm
}

# start NAME CMD... runs CMD in its own session with output to logs/NAME.log
# and records "PID STARTTIME" in pids/NAME.pid. Non-interactive bash does not
# make background jobs group leaders, so setsid execs in place (as does `env`
# when CMD starts with it) and $! is the component's own PID.
start() {
  local name=$1; shift
  # 9>&-: the daemons must not inherit the cluster lock (see lock below).
  setsid "$@" >>"$LOGS/$name.log" 2>&1 </dev/null 9>&- &
  local pid=$!
  sleep 0.05
  local st; st=$(pid_start_time "$pid") || { tail -20 "$LOGS/$name.log" >&2; die "$name exited at once (log: $LOGS/$name.log)"; }
  echo "$pid $st" >"$PIDS/$name.pid"
  log "started $name (pid $pid)"
}

# alive NAME: the recorded process still exists and is the same process.
alive() {
  local f=$PIDS/$1.pid pid st cur
  [[ -f $f ]] || return 1
  read -r pid st <"$f"
  cur=$(pid_start_time "$pid") || return 1
  [[ $cur == "$st" ]]
}

# stop NAME: SIGTERM the recorded process, SIGKILL after 15 s. Only ever the
# PID this script recorded, verified by its start time.
stop() {
  local name=$1 f=$PIDS/$1.pid pid st i
  [[ -f $f ]] || return 0
  read -r pid st <"$f"
  if alive "$name"; then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 150; i++)); do alive "$name" || break; sleep 0.1; done
    if alive "$name"; then
      log "$name (pid $pid) ignored SIGTERM; killing"
      kill -KILL "$pid" 2>/dev/null || true
      for ((i = 0; i < 50; i++)); do alive "$name" || break; sleep 0.1; done
    fi
    log "stopped $name (pid $pid)"
  fi
  rm -f "$f"
}

# wait_for DESC TIMEOUT_S CMD...: poll CMD every 0.5 s.
wait_for() {
  local desc=$1 timeout=$2; shift 2
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      log "timed out after ${timeout}s waiting for $desc"
      return 1
    fi
    sleep 0.5
  done
  log "ready: $desc"
}

# ---------------------------------------------------------------- network

uplink() { ip -o route show default 2>/dev/null | awk '{for (i=1;i<NF;i++) if ($i=="dev") {print $(i+1); exit}}'; }

# The harness pins the nft backend of iptables: kube-proxy and the kubelet
# call `iptables` from PATH, and Debian's alternatives may point it either
# way. Using `iptables-legacy` even once creates legacy tables that stay until
# reboot (docs/local-cluster.md, pitfall 7), so nothing here ever calls it.
ipt() { iptables-nft -w 5 "$@"; }
ip6t() { ip6tables-nft -w 5 "$@"; }

# save_sysctl KEY: remember the current value once, so down can restore it.
save_sysctl() {
  local key=$1 v
  v=$(sysctl -n "$key" 2>/dev/null) || return 0
  grep -q "^$key=" "$R/sysctl.saved" 2>/dev/null || echo "$key=$v" >>"$R/sysctl.saved"
}

net_up() {
  local up; up=$(uplink)
  echo "$up" >"$R/uplink"
  for k in net.ipv4.ip_forward net.bridge.bridge-nf-call-iptables net.bridge.bridge-nf-call-ip6tables \
           net.ipv6.conf.all.forwarding; do save_sysctl "$k"; done
  sysctl -qw net.ipv4.ip_forward=1
  # Built into this VM's kernel, a module on stock distribution kernels.
  [[ -e /proc/sys/net/bridge ]] || modprobe br_netfilter 2>/dev/null || true
  sysctl -qw net.bridge.bridge-nf-call-iptables=1 || die "br_netfilter is not available (pod→ClusterIP hairpin needs it)"
  if dual; then
    sysctl -qw net.bridge.bridge-nf-call-ip6tables=1
    # forwarding=1 on "all" makes the kernel ignore router advertisements on
    # interfaces whose accept_ra is 1; keep the uplink's IPv6 default route
    # alive by setting accept_ra=2 there first.
    if [[ -n $up ]]; then save_sysctl "net.ipv6.conf.$up.accept_ra"; sysctl -qw "net.ipv6.conf.$up.accept_ra=2"; fi
    sysctl -qw net.ipv6.conf.all.forwarding=1
  fi

  ip link add "$NODE_BR" type bridge 2>/dev/null || true
  ip link set "$NODE_BR" up
  ip addr replace "$NODE_IP4/32" dev "$NODE_BR"
  ip route replace "$SVC_CIDR4" dev "$NODE_BR" src "$NODE_IP4"
  # Load-balancer VIPs the tests assign live in the node subnet: route it to
  # the bridge too, so a VIP is reached from the node with the node IP as
  # source (inside loadBalancerSourceRanges), never through the uplink.
  ip route replace "$NODE_NET4" dev "$NODE_BR" src "$NODE_IP4"
  if dual; then
    sysctl -qw "net.ipv6.conf.$NODE_BR.disable_ipv6=0"
    ip -6 addr replace "$NODE_IP6/128" dev "$NODE_BR" nodad
    ip -6 route replace "$SVC_CIDR6" dev "$NODE_BR" src "$NODE_IP6"
    ip -6 route replace "$NODE_NET6" dev "$NODE_BR" src "$NODE_IP6"
  fi

  # Safety net: whatever goes wrong in a test, traffic for the cluster's
  # ranges never leaves through the uplink.
  if [[ -n $up ]]; then
    local d
    for d in "$SVC_CIDR4" "$CLUSTER_CIDR4" "$NODE_NET4"; do
      ipt -I OUTPUT -o "$up" -d "$d" -m comment --comment "$RULE_TAG" -j DROP
      ipt -I FORWARD -o "$up" -d "$d" -m comment --comment "$RULE_TAG" -j DROP
    done
    ipt -I FORWARD -o "$up" -s "$CLUSTER_CIDR4" -m comment --comment "$RULE_TAG" -j DROP
    if dual; then
      for d in "$SVC_CIDR6" "$CLUSTER_CIDR6" "$NODE_NET6"; do
        ip6t -I OUTPUT -o "$up" -d "$d" -m comment --comment "$RULE_TAG" -j DROP
        ip6t -I FORWARD -o "$up" -d "$d" -m comment --comment "$RULE_TAG" -j DROP
      done
      ip6t -I FORWARD -o "$up" -s "$CLUSTER_CIDR6" -m comment --comment "$RULE_TAG" -j DROP
    fi
  fi
}

# purge_rules SAVE RESTORE: delete, in one iptables-restore --noflush
# transaction per table, every rule tagged $RULE_TAG, every jump into a KUBE-*
# chain from a built-in chain, and every KUBE-* chain. `kube-proxy --cleanup`
# leaves the kubelet's KUBE-KUBELET-CANARY / KUBE-FIREWALL / KUBE-IPTABLES-HINT
# behind, and a crashed kube-proxy leaves everything.
purge_rules() {
  local save=$1 restore=$2 t dump script
  for t in filter nat mangle raw; do
    dump=$("$save" -t "$t" 2>/dev/null) || continue
    script=$(awk -v tag="$RULE_TAG" '
      /^:KUBE-/ { chains[++n] = substr($1, 2) }
      /^-A / && $2 !~ /^KUBE-/ && ($0 ~ / -j KUBE-/ || $0 ~ / -g KUBE-/ || index($0, "--comment " tag) || index($0, "--comment \"" tag "\"")) {
        sub(/^-A /, "-D "); print
      }
      END { for (i = 1; i <= n; i++) print "-F " chains[i]; for (i = 1; i <= n; i++) print "-X " chains[i] }
    ' <<<"$dump")
    [[ -z $script ]] && continue
    printf '*%s\n%s\nCOMMIT\n' "$t" "$script" | "$restore" -w 5 --noflush || log "warning: could not purge some $t rules with $restore"
  done
}

net_down() {
  purge_rules iptables-nft-save iptables-nft-restore
  purge_rules ip6tables-nft-save ip6tables-nft-restore
  local fam
  for fam in ip ip6 inet; do nft delete table "$fam" kube-proxy 2>/dev/null || true; done
  ip route del "$SVC_CIDR4" dev "$NODE_BR" 2>/dev/null || true
  ip -6 route del "$SVC_CIDR6" dev "$NODE_BR" 2>/dev/null || true
  ip route del "$NODE_NET4" dev "$NODE_BR" 2>/dev/null || true
  ip -6 route del "$NODE_NET6" dev "$NODE_BR" 2>/dev/null || true
  ip link del "$POD_BR" 2>/dev/null || true
  ip link del "$NODE_BR" 2>/dev/null || true
  if [[ -f $R/sysctl.saved ]]; then
    # Reverse order, so a key saved twice ends at its oldest value.
    tac "$R/sysctl.saved" | while IFS== read -r k v; do sysctl -qw "$k=$v" 2>/dev/null || true; done
  fi
}

# ---------------------------------------------------------------- config

write_configs() {
  mkdir -p "$R/etcd" "$R/containerd/root" "$R/cni/net.d" "$R/cni/ipam" "$R/kubelet/root" "$R/pod-logs" \
           "$R/bin" "$RUNDIR/containerd"
  # kube-proxy and the kubelet exec `iptables*` from PATH: pin them to the
  # nft backend (see ipt above).
  local b
  for b in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
    ln -sf "/usr/sbin/${b/iptables/iptables-nft}" "$R/bin/$b"
  done
  [[ -x /usr/sbin/iptables-nft ]] || die "iptables-nft missing: run hack/install-deps.sh"

  cat >"$R/containerd/config.toml" <<EOF
version = 2
root = "$R/containerd/root"
state = "$RUNDIR/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]
[grpc]
  address = "$SOCK"
[ttrpc]
  address = "$SOCK.ttrpc"
[debug]
  address = "$SOCK.debug"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "registry.k8s.io/pause:3.10"
  enable_selinux = false
  # The test VMs drop CAP_SYS_RESOURCE, so runc cannot lower oom_score_adj to
  # the -998 the kubelet asks for sandboxes; without this every sandbox fails
  # with "can't get final child's PID from pipe: EOF".
  restrict_oom_score_adj = true
  # Pod netns under our state dir, not /var/run/netns, so teardown removes
  # exactly ours.
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$R/cni/net.d"
EOF

  local ranges routes
  ranges="[{\"subnet\": \"$POD_CIDR4\", \"gateway\": \"${POD_CIDR4%0/24}1\"}]"
  routes='{"dst": "0.0.0.0/0"}'
  if dual; then
    ranges="$ranges, [{\"subnet\": \"$POD_CIDR6\", \"gateway\": \"${POD_CIDR6%/64}1\"}]"
    routes="$routes, {\"dst\": \"::/0\"}"
  fi
  cat >"$R/cni/net.d/10-svct.conflist" <<EOF
{ "cniVersion": "0.4.0", "name": "svct",
  "plugins": [
    { "type": "bridge", "bridge": "$POD_BR", "isGateway": true, "ipMasq": false, "hairpinMode": true,
      "ipam": { "type": "host-local", "dataDir": "$R/cni/ipam",
                "ranges": [$ranges],
                "routes": [$routes] } },
    { "type": "portmap", "capabilities": {"portMappings": true} } ] }
EOF

  cat >"$R/kubelet/config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
containerRuntimeEndpoint: unix://$SOCK
cgroupDriver: cgroupfs          # containerd 1.6 lacks the RuntimeConfig RPC, so this value is used
failCgroupV1: false             # the test hosts are cgroup v1 (default is true since 1.35)
failSwapOn: false
address: $NODE_IP4
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
tlsCertFile: $P/kubelet.crt
tlsPrivateKeyFile: $P/kubelet.key
authentication: {anonymous: {enabled: false}, webhook: {enabled: true}, x509: {clientCAFile: $P/ca.crt}}
authorization: {mode: Webhook}
clusterDomain: cluster.local
clusterDNS: [$CLUSTER_DNS]
resolvConf: /etc/resolv.conf
registerNode: true
podLogsDir: $R/pod-logs
maxPods: 50
serializeImagePulls: false
imageGCHighThresholdPercent: 100   # never GC the imported images (they can't be re-pulled)
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: "50Mi", nodefs.available: "1%", nodefs.inodesFree: "1%", imagefs.available: "1%", imagefs.inodesFree: "1%"}
protectKernelDefaults: false
localStorageCapacityIsolation: false
EOF

  # The audit policy: every write at Metadata level (who created, deleted or
  # exec'd into what, with the user agent), plus everything the admin and the
  # restricted user do (their reads too: a test can count a command's API
  # requests), and nothing else (the kubelet's and controllers' reads would
  # drown it). pods/exec is a GET when it arrives over WebSocket.
  cat >"$R/audit-policy.yaml" <<EOF
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: None
  nonResourceURLs: ["/healthz*", "/livez*", "/readyz*"]
- level: Metadata
  users: [kubernetes-admin, svct-restricted]
- level: Metadata
  resources: [{group: "", resources: [pods/exec, pods/attach, pods/portforward]}]
- level: Metadata
  verbs: [create, update, patch, delete, deletecollection]
- level: None
EOF

  local cluster_cidr=$CLUSTER_CIDR4 npa="\"$NODE_IP4/32\""
  if dual; then cluster_cidr="$CLUSTER_CIDR4,$CLUSTER_CIDR6"; npa="$npa, \"$NODE_IP6/128\""; fi
  cat >"$R/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $P/kube-proxy.kubeconfig}
mode: $PROXY_MODE
hostnameOverride: $NODE
clusterCIDR: $cluster_cidr
bindAddress: 0.0.0.0
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
nodePortAddresses: [$npa]
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}   # leave host sysctls alone
iptables: {syncPeriod: 10s, minSyncPeriod: 1s}
nftables: {syncPeriod: 10s, minSyncPeriod: 1s}
EOF
}

# ---------------------------------------------------------------- up

check_ports_free() {
  local busy
  busy=$(ss -Htlnp 2>/dev/null | awk '{print $4}' |
    grep -E '(^|[:\]])(2379|2380|6443|10248|10249|10250|10256|10257|10259)$' || true)
  [[ -z $busy ]] || die "ports the cluster needs are in use: $(echo "$busy" | tr '\n' ' ')(another cluster? try: $0 down)"
}

any_alive() {
  local f n
  for f in "$PIDS"/*.pid; do
    [[ -e $f ]] || continue
    n=$(basename "$f" .pid)
    alive "$n" && return 0
  done
  return 1
}

ipv6_usable() {
  [[ -e /proc/sys/net/ipv6/conf/all/disable_ipv6 && $(cat /proc/sys/net/ipv6/conf/all/disable_ipv6) == 0 ]]
}

apiserver_ready() {
  curl -sf --max-time 2 --cacert "$P/ca.crt" --cert "$P/admin.crt" --key "$P/admin.key" https://127.0.0.1:6443/readyz
}
node_ready() {
  [[ $(kc get node "$NODE" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null) == True ]]
}

cmd_up() {
  [[ $(id -u) == 0 ]] || die "must run as root (network, mounts, containerd)"
  [[ $PROXY_MODE == iptables || $PROXY_MODE == nftables ]] || die "PROXY_MODE=$PROXY_MODE: want iptables or nftables"
  case $SVCT_IP_FAMILY in
    auto)
      if ipv6_usable; then SVCT_IP_FAMILY=dual; else
        SVCT_IP_FAMILY=ipv4
        log "WARNING: IPv6 is disabled on this host: the cluster is IPv4-only (dual-stack scenarios degrade)"
      fi ;;
    dual) ipv6_usable || die "SVCT_IP_FAMILY=dual but IPv6 is disabled on this host (net.ipv6.conf.all.disable_ipv6); use SVCT_IP_FAMILY=ipv4" ;;
    ipv4) ;;
    *) die "SVCT_IP_FAMILY=$SVCT_IP_FAMILY: want auto, dual or ipv4" ;;
  esac
  if any_alive; then die "a cluster is already running (see '$0 status'); run '$0 down' first"; fi
  if [[ -z ${SVCT_NO_BUILD:-} ]]; then
    "$here/build-k8s.sh" >/dev/null
    "$here/build-images.sh" >/dev/null
  fi
  [[ -x $K8S_BIN/kube-all ]] || die "no Kubernetes binaries in $K8S_BIN: run hack/build-k8s.sh"
  local images=$SVCT_CACHE/images
  [[ -f $images/pause.tar && -f $images/echo.tar ]] || die "no images in $images: run hack/build-images.sh"
  local b
  for b in etcd containerd ctr runc curl openssl nft iptables-nft; do
    command -v "$b" >/dev/null || die "$b not found: run hack/install-deps.sh"
  done
  [[ -x /usr/lib/cni/bridge ]] || die "CNI plugins missing in /usr/lib/cni: run hack/install-deps.sh"

  # Leftovers of a crashed run (no live process, but links/rules/mounts).
  if [[ -d $R || -e $RUNDIR ]]; then log "cleaning leftovers of a previous run"; cmd_down; fi
  check_ports_free

  mkdir -p "$R" "$PIDS" "$LOGS"
  if compgen -G "$LOGS/*.log" >/dev/null; then
    rm -rf "$LOGS.prev"; mkdir -p "$LOGS.prev"; mv "$LOGS"/*.log "$LOGS.prev/"
  fi
  printf 'PROXY_MODE=%s\nSVCT_IP_FAMILY=%s\nK8S_VERSION=%s\nOWNER=%s\n' \
    "$PROXY_MODE" "$SVCT_IP_FAMILY" "$K8S_VERSION" "${SVCT_CLUSTER_OWNER:-manual}" >"$R/cluster.env"
  if [[ -z ${SVCT_KEEP_ON_FAILURE:-} ]]; then
    trap 'rc=$?; if ((rc)); then log "up failed (rc=$rc); logs in $LOGS; tearing down"; cmd_down || true; fi' EXIT
  fi
  trap 'exit 130' INT TERM

  local t0=$SECONDS node_ips=$NODE_IP4 svc_cidr=$SVC_CIDR4 cluster_cidr=$CLUSTER_CIDR4
  if dual; then node_ips="$NODE_IP4,$NODE_IP6" svc_cidr="$SVC_CIDR4,$SVC_CIDR6" cluster_cidr="$CLUSTER_CIDR4,$CLUSTER_CIDR6"; fi

  net_up
  "$here/gen-certs.sh" "$P" "$NODE" "$node_ips"
  write_configs
  log "configs written (proxy mode $PROXY_MODE, $SVCT_IP_FAMILY)"

  start etcd etcd --name default --data-dir "$R/etcd" \
    --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
    --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
    --initial-cluster default=http://127.0.0.1:2380 --quota-backend-bytes 1073741824
  start containerd containerd --config "$R/containerd/config.toml"
  wait_for "etcd /health" 60 curl -sf --max-time 2 http://127.0.0.1:2379/health
  wait_for "containerd socket" 60 ctr -a "$SOCK" version

  start kube-apiserver "$K8S_BIN/kube-apiserver" --etcd-servers=http://127.0.0.1:2379 \
    --bind-address=127.0.0.1 --secure-port=6443 --advertise-address="$NODE_IP4" \
    --service-cluster-ip-range="$svc_cidr" --service-node-port-range=30000-32767 \
    --client-ca-file="$P/ca.crt" --tls-cert-file="$P/apiserver.crt" --tls-private-key-file="$P/apiserver.key" \
    --kubelet-client-certificate="$P/apiserver-kubelet-client.crt" --kubelet-client-key="$P/apiserver-kubelet-client.key" \
    --kubelet-preferred-address-types=InternalIP \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$P/sa.pub" --service-account-signing-key-file="$P/sa.key" \
    --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction --allow-privileged=true \
    --profiling=false --event-ttl=10m \
    --audit-policy-file="$R/audit-policy.yaml" --audit-log-path="$LOGS/audit.log" \
    --audit-log-format=json --audit-log-maxsize=200 --audit-log-maxbackup=1

  local f
  for f in "$images"/*.tar; do
    ctr -a "$SOCK" -n k8s.io images import "$f" >/dev/null ||
      die "ctr images import $f failed"
  done
  log "images imported: $(cd "$images" && echo *.tar)"

  wait_for "kube-apiserver /readyz" 120 apiserver_ready

  start kube-controller-manager "$K8S_BIN/kube-controller-manager" --kubeconfig="$P/controller-manager.kubeconfig" \
    --authentication-kubeconfig="$P/controller-manager.kubeconfig" --authorization-kubeconfig="$P/controller-manager.kubeconfig" \
    --bind-address=127.0.0.1 --secure-port=10257 --leader-elect=false \
    --service-cluster-ip-range="$svc_cidr" --cluster-cidr="$cluster_cidr" --allocate-node-cidrs=false \
    --service-account-private-key-file="$P/sa.key" --root-ca-file="$P/ca.crt" \
    --use-service-account-credentials=false --controllers='*,-cloud-node-lifecycle-controller'
  start kube-scheduler "$K8S_BIN/kube-scheduler" --kubeconfig="$P/scheduler.kubeconfig" \
    --authentication-kubeconfig="$P/scheduler.kubeconfig" --authorization-kubeconfig="$P/scheduler.kubeconfig" \
    --bind-address=127.0.0.1 --secure-port=10259 --leader-elect=false
  start kubelet env PATH="$R/bin:$PATH" "$K8S_BIN/kubelet" --config="$R/kubelet/config.yaml" \
    --kubeconfig="$P/kubelet.kubeconfig" --root-dir="$R/kubelet/root" \
    --hostname-override="$NODE" --node-ip="$node_ips" --v=2
  start kube-proxy env PATH="$R/bin:$PATH" "$K8S_BIN/kube-proxy" --config="$R/kube-proxy.yaml" --v=2

  wait_for "node $NODE Ready" 180 node_ready
  wait_for "ServiceAccount default/default" 120 kc get serviceaccount default -n default
  wait_for "ConfigMap default/kube-root-ca.crt" 120 kc get configmap kube-root-ca.crt -n default
  wait_for "kube-proxy /healthz" 120 curl -sf --max-time 2 http://127.0.0.1:10256/healthz
  "$here/cluster-extras.sh" up
  trap - EXIT INT TERM
  log "cluster up in $((SECONDS - t0))s: $(kc get node "$NODE" --no-headers 2>/dev/null | tr -s ' ')"
  cmd_env
}

# ---------------------------------------------------------------- down

# Our containerd's shims were started by it with `-address $SOCK`; they are
# re-parented to init, so find them by that exact argument.
our_shims() {
  local p
  for p in $(pgrep -f containerd-shim-runc-v2 2>/dev/null || true); do
    tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -qF -- "-address $SOCK " && echo "$p"
  done
  return 0
}

cmd_down() {
  [[ $(id -u) == 0 ]] || die "must run as root"
  local t0=$SECONDS OWNER=
  [[ -f $R/cluster.env ]] && . "$R/cluster.env"
  if [[ -n ${SVCT_DOWN_ONLY_IF_OWNER:-} && -n $OWNER && $OWNER != "$SVCT_DOWN_ONLY_IF_OWNER" ]]; then
    log "the cluster belongs to $OWNER, not $SVCT_DOWN_ONLY_IF_OWNER: leaving it up"
    return 0
  fi
  mkdir -p "$LOGS"

  # 1. No controller may recreate pods while we delete them; then let the
  #    kubelet tear every pod down properly (CNI DEL releases IPs and veths).
  stop kube-controller-manager
  stop kube-scheduler
  if alive kube-apiserver && alive kubelet && [[ -f $KUBECONFIG_ADMIN ]]; then
    kc delete pods --all --all-namespaces --grace-period=1 --wait=false >/dev/null 2>&1 || true
    wait_for "all pods deleted" 60 bash -c "[[ -z \$('$K8S_BIN/kubectl' --kubeconfig '$KUBECONFIG_ADMIN' get pods -A --no-headers 2>/dev/null) ]]" ||
      log "some pods were not deleted in time; forcing through containerd"
  fi
  # 2. kube-proxy, then its own cleanup of every mode's rules.
  stop kube-proxy
  if [[ -x $K8S_BIN/kube-proxy && -f $R/kube-proxy.yaml ]]; then
    PATH="$R/bin:$PATH" "$K8S_BIN/kube-proxy" --config="$R/kube-proxy.yaml" --cleanup >>"$LOGS/kube-proxy-cleanup.log" 2>&1 || true
  fi
  stop kubelet
  # 3. Whatever containers are left, then containerd and its shims.
  if alive containerd; then
    local c
    for c in $(ctr -a "$SOCK" -n k8s.io tasks ls -q 2>/dev/null); do
      ctr -a "$SOCK" -n k8s.io tasks kill -s SIGKILL "$c" >/dev/null 2>&1 || true
    done
    sleep 0.5
    for c in $(ctr -a "$SOCK" -n k8s.io tasks ls -q 2>/dev/null); do
      ctr -a "$SOCK" -n k8s.io tasks delete -f "$c" >/dev/null 2>&1 || true
    done
    for c in $(ctr -a "$SOCK" -n k8s.io containers ls -q 2>/dev/null); do
      ctr -a "$SOCK" -n k8s.io containers delete "$c" >/dev/null 2>&1 || true
    done
  fi
  stop containerd
  local s
  for s in $(our_shims); do kill -KILL "$s" 2>/dev/null || true; done
  # 4. Control plane last, so the steps above could still use it.
  stop kube-apiserver
  stop etcd

  # 5. Mounts (deepest first) and pod netns under our directories only.
  local m
  if [[ -d $RUNDIR ]]; then
    find "$RUNDIR" -path '*/netns/*' -type f 2>/dev/null | while read -r m; do
      umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
    done
  fi
  findmnt -rn -o TARGET 2>/dev/null | awk -v a="$SVCT_ROOT/" -v b="$RUNDIR/" 'index($0, a) == 1 || index($0, b) == 1' |
    sort -r | while read -r m; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done

  # 6. The outside netns (cluster-extras.sh), then rules, tables, links,
  #    routes, sysctls.
  "$here/cluster-extras.sh" down || true
  net_down

  # 7. The kubelet symlinks pod logs into /var/log/containers; drop ours.
  local l
  for l in /var/log/containers/*.log; do
    [[ -L $l ]] || continue
    [[ $(readlink "$l") == "$R/pod-logs/"* ]] && rm -f "$l"
  done

  rm -rf "$R" "$RUNDIR"
  log "cluster down in $((SECONDS - t0))s (logs kept in $LOGS)"
}

cmd_status() {
  local f n rc=0 any=0
  for f in "$PIDS"/*.pid; do
    [[ -e $f ]] || continue
    any=1
    n=$(basename "$f" .pid)
    if alive "$n"; then echo "$n: running (pid $(cut -d' ' -f1 "$f"))"; else echo "$n: DEAD"; rc=1; fi
  done
  if ((!any)); then echo "cluster: down"; return 3; fi
  [[ -f $R/cluster.env ]] && sed 's/^/  /' "$R/cluster.env"
  kc get nodes -o wide 2>&1 || rc=1
  return $rc
}

cmd_env() {
  echo "export KUBECONFIG=$KUBECONFIG_ADMIN"
  echo "export PATH=$K8S_BIN:\$PATH"
  if [[ -f $R/cluster.env ]]; then "$here/cluster-extras.sh" env; fi
}

# lock: one up/down/purge at a time on this machine (the cluster's addresses
# and ports make it a machine-wide singleton). e2e.sh's safety-net `down` may
# overlap TestMain's own; it waits instead of interleaving.
lock() {
  mkdir -p /run/lock
  exec 9>/run/lock/svc-trace-cluster.lock
  flock -w 600 9 || die "another hack/cluster.sh up/down held the lock for 10 minutes"
}

case ${1:-} in
  up) lock; cmd_up ;;
  down) lock; cmd_down ;;
  status) cmd_status ;;
  env) cmd_env ;;
  purge) lock; cmd_down; rm -rf "$SVCT_ROOT" ;;
  *) echo "usage: $0 up|down|status|env|purge" >&2; exit 2 ;;
esac
