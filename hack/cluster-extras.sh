#!/usr/bin/env bash
# cluster-extras.sh up|down|env — what the node-helper and full-trace tests
# need on top of the bare cluster (hack/cluster.sh calls `up` once the node
# is Ready and `down` before it removes the network; both are idempotent, and
# `up` also works on a cluster that is already running):
#
#   * a namespace labelled for Pod Security `baseline` (svct-baseline), where
#     the privileged node helper must be rejected with a clear error;
#   * a restricted user (client certificate CN=svct-restricted, O=svct:readonly,
#     issued by gen-certs.sh) bound by RBAC to read-only access — get/list/watch
#     services, endpointslices, pods, nodes, events — and nothing else (no
#     pods/create, no pods/exec); its kubeconfig is run/pki/restricted.kubeconfig;
#   * an "outside" network namespace (svct-outside) that reaches the node only
#     through the node's address, like a client on the node's network: a veth
#     into the node bridge svctnode, address 10.250.0.200 (and
#     fd00:10:250::200 on a dual-stack cluster), routes to the node IP and,
#     via the node, to the node subnet (LoadBalancer and external IPs).
#
# The audit log (every write at Metadata level, everything the admin and the
# restricted user do, to $SVCT_ROOT/logs/audit.log) is configured by
# cluster.sh itself: it needs kube-apiserver flags.
#
# `env` prints the exports tests use (cluster.sh env includes them).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

R=$SVCT_ROOT/run
P=$R/pki
K8S_VERSION=${K8S_VERSION:-v1.36.3}
KUBECTL=$SVCT_CACHE/k8s/$K8S_VERSION/bin/kubectl
BASELINE_NS=svct-baseline
RESTRICTED_USER=svct-restricted
RESTRICTED_KUBECONFIG=$P/restricted.kubeconfig
OUTSIDE_NS=svct-outside
OUTSIDE_VETH=svctout0           # node side, enslaved to the node bridge
NODE_BR=svctnode
NODE_IP4=10.250.0.10
NODE_IP6=fd00:10:250::10
OUTSIDE_IP4=10.250.0.200
OUTSIDE_IP6=fd00:10:250::200

die() { log "ERROR: $*"; exit 1; }
kc() { "$KUBECTL" --kubeconfig "$P/admin.kubeconfig" "$@"; }
dual() { [[ $(sed -n 's/^SVCT_IP_FAMILY=//p' "$R/cluster.env" 2>/dev/null) == dual ]]; }

# restricted_cert: gen-certs.sh issues it; a cluster brought up before that
# change gets it here, signed by the same CA.
restricted_cert() {
  [[ -f $P/restricted.crt && -f $RESTRICTED_KUBECONFIG ]] && return 0
  [[ -f $P/ca.key ]] || die "no CA key in $P: is the cluster up?"
  (
    cd "$P"
    openssl req -newkey rsa:2048 -nodes -keyout restricted.key -out restricted.csr \
      -subj "/O=svct:readonly/CN=$RESTRICTED_USER" 2>/dev/null
    printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n' >restricted.ext
    openssl x509 -req -in restricted.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out restricted.crt \
      -days 3650 -extfile restricted.ext 2>/dev/null
    rm -f restricted.csr restricted.ext ca.srl
    chmod 600 restricted.key
    sed -e "s|$P/admin.crt|$P/restricted.crt|; s|$P/admin.key|$P/restricted.key|; s|name: admin|name: restricted|; s|user: admin|user: restricted|" \
      admin.kubeconfig >restricted.kubeconfig
  )
}

rbac_up() {
  kc apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Namespace
metadata:
  name: $BASELINE_NS
  labels:
    pod-security.kubernetes.io/enforce: baseline
    pod-security.kubernetes.io/enforce-version: latest
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: svct-readonly
  labels: {app.kubernetes.io/part-of: svc-trace-e2e}
rules:
- apiGroups: [""]
  resources: [services, pods, nodes, events]
  verbs: [get, list, watch]
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [get, list, watch]
- apiGroups: [events.k8s.io]
  resources: [events]
  verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: svct-readonly
  labels: {app.kubernetes.io/part-of: svc-trace-e2e}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: svct-readonly}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: $RESTRICTED_USER}
EOF
  # The binding must be in force before anyone relies on it, and must not
  # reach further than read-only.
  local i
  for ((i = 0; i < 40; i++)); do
    [[ $("$KUBECTL" --kubeconfig "$RESTRICTED_KUBECONFIG" auth can-i list endpointslices.discovery.k8s.io -A 2>/dev/null) == yes ]] && break
    sleep 0.25
  done
  [[ $("$KUBECTL" --kubeconfig "$RESTRICTED_KUBECONFIG" auth can-i list endpointslices.discovery.k8s.io -A 2>/dev/null) == yes ]] ||
    die "the restricted user cannot list endpointslices"
  [[ $("$KUBECTL" --kubeconfig "$RESTRICTED_KUBECONFIG" auth can-i create pods -n kube-system 2>/dev/null) == no ]] ||
    die "the restricted user can create pods"
}

outside_up() {
  if ! ip netns pids "$OUTSIDE_NS" >/dev/null 2>&1; then
    ip netns add "$OUTSIDE_NS"
  fi
  if ! ip link show "$OUTSIDE_VETH" >/dev/null 2>&1; then
    ip link add "$OUTSIDE_VETH" type veth peer name eth0 netns "$OUTSIDE_NS"
  fi
  ip link set "$OUTSIDE_VETH" master "$NODE_BR" up
  ip -n "$OUTSIDE_NS" link set lo up
  ip -n "$OUTSIDE_NS" link set eth0 up
  ip -n "$OUTSIDE_NS" addr replace "$OUTSIDE_IP4/32" dev eth0
  # The node is on-link; everything else it owns (LoadBalancer VIPs,
  # external IPs in its subnet) is reached through it, as through a router.
  ip -n "$OUTSIDE_NS" route replace "$NODE_IP4/32" dev eth0
  ip -n "$OUTSIDE_NS" route replace 10.250.0.0/24 via "$NODE_IP4" dev eth0
  if dual; then
    ip netns exec "$OUTSIDE_NS" sysctl -qw net.ipv6.conf.eth0.disable_ipv6=0
    ip -n "$OUTSIDE_NS" -6 addr replace "$OUTSIDE_IP6/128" dev eth0 nodad
    ip -n "$OUTSIDE_NS" -6 route replace "$NODE_IP6/128" dev eth0
    ip -n "$OUTSIDE_NS" -6 route replace fd00:10:250::/64 via "$NODE_IP6" dev eth0
  fi
  # Reachability of the node, through its address only: a TCP connection to
  # the kubelet's port on the node IP (no ping on these machines).
  local i
  for ((i = 0; i < 20; i++)); do
    ip netns exec "$OUTSIDE_NS" timeout 2 bash -c ": >/dev/tcp/$NODE_IP4/10250" 2>/dev/null && return 0
    sleep 0.25
  done
  die "the outside netns cannot reach the node at $NODE_IP4"
}

outside_down() {
  ip link del "$OUTSIDE_VETH" 2>/dev/null || true
  ip netns del "$OUTSIDE_NS" 2>/dev/null || true
}

cmd_env() {
  echo "export SVCT_RESTRICTED_KUBECONFIG=$RESTRICTED_KUBECONFIG"
  echo "export SVCT_BASELINE_NAMESPACE=$BASELINE_NS"
  echo "export SVCT_OUTSIDE_NETNS=$OUTSIDE_NS"
  echo "export SVCT_OUTSIDE_IP4=$OUTSIDE_IP4"
  dual && echo "export SVCT_OUTSIDE_IP6=$OUTSIDE_IP6"
  echo "export SVCT_AUDIT_LOG=$SVCT_ROOT/logs/audit.log"
}

case ${1:-} in
  up)
    [[ $(id -u) == 0 ]] || die "must run as root"
    [[ -x $KUBECTL ]] || die "no kubectl in $KUBECTL"
    restricted_cert
    rbac_up
    outside_up
    log "extras up: namespace $BASELINE_NS (enforce=baseline), user $RESTRICTED_USER ($RESTRICTED_KUBECONFIG), netns $OUTSIDE_NS ($OUTSIDE_IP4)"
    ;;
  down) outside_down ;;   # the namespace, the RBAC and the cert go with the cluster's etcd and run/
  env) cmd_env ;;
  *) echo "usage: $0 up|down|env" >&2; exit 2 ;;
esac
