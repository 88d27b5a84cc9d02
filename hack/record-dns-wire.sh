#!/usr/bin/env bash
# Records real CoreDNS replies (raw DNS messages, over UDP with EDNS0 and over
# TCP) from the harness cluster into pkg/dnssim/dnswire/testdata/coredns/:
# the fixtures of dnswire's parser tests and the seed corpus of FuzzParseReply.
# Needs the cluster up (hack/cluster.sh up); applies CoreDNS and the test
# objects itself (test/dns/cluster). Then run
#   go test ./pkg/dnssim/dnswire -run TestParseRecorded -update
# and review the golden diff.
set -euo pipefail
cd "$(dirname "$0")/.."
SVCTRACE_DNS_CLUSTER=1 SVCTRACE_DNS_RECORD_WIRE=1 go test ./test/dns/cluster/ -run '^TestRecordWire$' -count=1 -v
