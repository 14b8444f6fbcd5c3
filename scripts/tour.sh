#!/usr/bin/env bash
# npm run tour: the bundle tools on one machine:
# pack a build output, inspect it, sign it, verify it, watch a tampered copy be refused,
# and launch the sample app. `npm run demo` (`shoal demo`) shows the whole system.
set -euo pipefail
cd "$(dirname "$0")/.."
shoal() { node bin/shoal.js "$@"; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== pack fixtures/golden-tree"
shoal pack fixtures/golden-tree -o "$work/bundle.tar"
echo; echo "== inspect"
shoal inspect "$work/bundle.tar"
echo; echo "== keygen + sign web@1.0.0"
shoal keygen -o "$work/release.key" -c "demo@$(hostname)" >/dev/null
shoal sign "$work/bundle.tar" -k "$work/release.key" -r web --version 1.0.0 -o "$work/bundle.sig"
echo; echo "== verify with the trusted key"
shoal verify "$work/bundle.tar" --signature "$work/bundle.sig" --trusted-keys "$work/release.key.pub"
echo; echo "== verify a copy with one byte flipped inside bin/hello (expect exit 3)"
cp "$work/bundle.tar" "$work/tampered.tar"
offset=$(grep -abo 'hello from shoal' "$work/tampered.tar" | head -1 | cut -d: -f1)
printf 'J' | dd of="$work/tampered.tar" bs=1 seek="$offset" conv=notrunc status=none
set +e
shoal verify "$work/tampered.tar"
rc=$?
set -e
echo "exit code $rc"
[[ $rc -eq 3 ]]
echo; echo "== launch fixtures/hello-app (dir snapshotter, process agent)"
shoal pack fixtures/hello-app -o "$work/hello.tar" -q >/dev/null
shoal launch "$work/hello.tar" --root "$work/launcher" -r hello --version 1.0.0 -q
echo; echo "demo OK"
