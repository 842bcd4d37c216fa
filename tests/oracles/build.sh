#!/bin/sh
# tests/oracles/build.sh OUTDIR - builds the reference oracles into OUTDIR:
#   OUTDIR/semver-oracle      (semver/main.go: Masterminds/semver v3, regexp)
#   OUTDIR/gotemplate-oracle  (gotemplate/main.go: text/template, sprig)
# from Debian's Go packages, without the network: GOPATH mode over
# /usr/share/gocode, where the golang-github-* -dev packages install their
# sources (scripts/deps test installs them; see README.md).  The Go build
# cache goes to OUTDIR/gocache unless GOCACHE is set.
set -eu
if [ $# -ne 1 ]; then
	echo "usage: tests/oracles/build.sh OUTDIR" >&2
	exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$1"
out=$(cd "$1" && pwd)
export GO111MODULE=off GOPATH=/usr/share/gocode GOPROXY=off
export GOCACHE="${GOCACHE:-$out/gocache}"
go build -o "$out/semver-oracle" "$here/semver/main.go"
go build -o "$out/gotemplate-oracle" "$here/gotemplate/main.go"
echo "tests/oracles: built $out/semver-oracle $out/gotemplate-oracle"
