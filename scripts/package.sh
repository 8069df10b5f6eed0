#!/bin/sh
# Build the Linux packages of entra-helper (called by `make package`):
# both binaries for linux/amd64 and linux/arm64, a .deb and an .rpm per
# architecture made by nfpm from packaging/nfpm.yaml, and dist/SHA256SUMS.
#
# Environment: VERSION (default: from git describe), ARCHES (default
# "amd64 arm64"), FORMATS (default "deb rpm"), DIST (default dist), GO.
set -eu

NFPM_VERSION=v2.44.0 # builds with Go 1.26; newer releases need modules the proxy lacks
cd "$(dirname "$0")/.."

GO=${GO:-go}
DIST=${DIST:-dist}
ARCHES=${ARCHES:-amd64 arm64}
FORMATS=${FORMATS:-deb rpm}
VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo 0.0.0)}
# Package versions must start with a digit: v1.2.3 -> 1.2.3, a bare commit -> 0.0.0~git<commit>.
PKG_VERSION=${VERSION#v}
case $PKG_VERSION in
[0-9]*) ;;
*) PKG_VERSION=0.0.0~git$PKG_VERSION ;;
esac
PKG_VERSION=$(printf %s "$PKG_VERSION" | tr -c 'A-Za-z0-9.+~\n' '~')

mkdir -p "$DIST"
for arch in $ARCHES; do
	bin=$DIST/linux-$arch
	mkdir -p "$bin"
	for cmd in entra-helper entra-helperd; do
		echo "build $cmd linux/$arch"
		CGO_ENABLED=0 GOOS=linux GOARCH=$arch "$GO" build -trimpath \
			-ldflags "-s -w -X main.version=$VERSION" -o "$bin/$cmd" "./cmd/$cmd"
	done
	# Man pages go in compressed (gzip -n: no name or time stamp, reproducible).
	mkdir -p "$bin/man"
	for page in packaging/man/*.[0-9]; do
		gzip -9nc "$page" >"$bin/man/$(basename "$page").gz"
	done
	for format in $FORMATS; do
		echo "package $format linux/$arch"
		VERSION=$PKG_VERSION ARCH=$arch BIN_DIR=$bin \
			"$GO" run "github.com/goreleaser/nfpm/v2/cmd/nfpm@$NFPM_VERSION" package \
			--config packaging/nfpm.yaml --packager "$format" --target "$DIST/"
	done
done

(
	cd "$DIST"
	rm -f SHA256SUMS
	files=$(ls -- *.deb *.rpm 2>/dev/null || true)
	[ -n "$files" ] || { echo "no packages were built" >&2; exit 1; }
	# shellcheck disable=SC2086 # file names are nfpm's, without spaces
	sha256sum $files >SHA256SUMS
)
echo "wrote $DIST:"
cat "$DIST/SHA256SUMS"
