#!/usr/bin/env bash
# gen-certs.sh PKI_DIR NODE_NAME NODE_IP[,NODE_IP6]
#
# Generates the PKI of the single-node e2e cluster with openssl: one CA
# (svc-trace-test-ca), serving certs for the apiserver and the kubelet, and the
# client certs of every component, plus the service-account key pair. The
# subjects follow what kubeadm issues (certs/certlist.go) so the default RBAC
# bindings and the Node authorizer apply unchanged:
#   admin, controller-manager, scheduler, apiserver-kubelet-client: O=system:masters
#     (controller-manager runs with --use-service-account-credentials=false, so it
#     needs broad rights under one identity)
#   kube-proxy: CN=system:kube-proxy (default ClusterRoleBinding system:node-proxier)
#   kubelet-client: O=system:nodes, CN=system:node:NODE (Node authorizer + NodeRestriction)
#   restricted: CN=svct-restricted, O=svct:readonly (read-only, bound by cluster-extras.sh)
# 2048-bit RSA, 10 years: this PKI lives as long as one test cluster.
set -euo pipefail
if (($# != 3)); then echo "usage: $0 PKI_DIR NODE_NAME NODE_IP[,NODE_IP6]" >&2; exit 2; fi
pki=$1 node=$2 node_ips=$3
mkdir -p "$pki"
cd "$pki"
days=3650

ip_sans=""
IFS=, read -ra ips <<<"$node_ips"
for ip in "${ips[@]}"; do ip_sans+=",IP:$ip"; done

openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days "$days" \
  -subj "/CN=svc-trace-test-ca" -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign" 2>/dev/null

# issue NAME SUBJECT EXTKEYUSAGE [SAN]
issue() {
  local name=$1 subj=$2 eku=$3 san=${4:-}
  openssl req -newkey rsa:2048 -nodes -keyout "$name.key" -out "$name.csr" -subj "$subj" 2>/dev/null
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$eku"
    [[ -n $san ]] && echo "subjectAltName=$san"
  } >"$name.ext"
  openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -out "$name.crt" \
    -days "$days" -extfile "$name.ext" 2>/dev/null
  rm -f "$name.csr" "$name.ext"
}

issue apiserver "/CN=kube-apiserver" serverAuth \
  "IP:127.0.0.1,IP:10.96.0.1,IP:::1$ip_sans,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
issue apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" clientAuth
issue admin "/O=system:masters/CN=kubernetes-admin" clientAuth
issue controller-manager "/O=system:masters/CN=system:kube-controller-manager" clientAuth
issue scheduler "/O=system:masters/CN=system:kube-scheduler" clientAuth
issue kube-proxy "/CN=system:kube-proxy" clientAuth
issue kubelet-client "/O=system:nodes/CN=system:node:$node" clientAuth
issue kubelet "/CN=$node" serverAuth "IP:127.0.0.1$ip_sans,DNS:$node"
# A user with read-only rights only (hack/cluster-extras.sh binds it): what a
# developer without pods/create looks like, for the plugin's RBAC fallbacks.
issue restricted "/O=svct:readonly/CN=svct-restricted" clientAuth
openssl genrsa -out sa.key 2048 2>/dev/null
openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
rm -f ca.srl
chmod 600 ./*.key

# kubeconfig NAME CERT: a kubeconfig for https://127.0.0.1:6443 that references
# the cert files by path (no embedding, so `cat` of a kubeconfig shows no keys).
for pair in admin:admin controller-manager:controller-manager scheduler:scheduler \
            kube-proxy:kube-proxy kubelet:kubelet-client restricted:restricted; do
  name=${pair%%:*} cert=${pair#*:}
  cat >"$name.kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters:
- name: svc-trace-e2e
  cluster:
    server: https://127.0.0.1:6443
    certificate-authority: $pki/ca.crt
users:
- name: $name
  user:
    client-certificate: $pki/$cert.crt
    client-key: $pki/$cert.key
contexts:
- name: svc-trace-e2e
  context: {cluster: svc-trace-e2e, user: $name, namespace: default}
current-context: svc-trace-e2e
KC
done
