#!/bin/sh
# azd's service prepackage hook: build the deployment artefact with `npm run package` (its last line is the
# artefact's path, a .zip or a folder) and lay it out in .deploy/, the folder azure.yaml's `dist` names, which azd
# zips and publishes to the Flex Consumption deployment container.
set -eu
cd "$(dirname "$0")/../.."
. infra/hooks/lib.sh

artefact="$(npm run --silent package | tail -n 1)"
[ -e "$artefact" ] || fail "npm run package did not end with the artefact's path (got '$artefact')."
rm -rf .deploy
mkdir .deploy
case "$artefact" in
  *.zip) if command -v unzip >/dev/null; then unzip -q "$artefact" -d .deploy; else python3 -m zipfile -e "$artefact" .deploy; fi ;;
  *) cp -R "$artefact"/. .deploy/ ;;
esac
[ -f .deploy/host.json ] || fail "the artefact has no host.json at its root: $artefact"
say "package: $artefact laid out in .deploy/"
