#!/bin/sh
# Registers the custom search attributes GuardianFlow's workflows set (common/contract.ts `SearchAttr`;
# test/unit/deploy-files.test.ts keeps this list equal to it) in the namespace the workers use. Run by
# the `temporal-search-attributes` service of docker-compose.yml and by scripts/prod-check.sh, with
# the `temporal` CLI's own variables (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY,
# TEMPORAL_TLS_*). Creating one that exists with the same type is a no-op, so a rerun is harmless.
set -eu
ATTRIBUTES="GfSite GfTask GfDesign GfType"

tries=0
until temporal operator cluster health >/dev/null 2>&1; do
  tries=$((tries + 1))
  if [ "$tries" -ge 90 ]; then
    echo "Temporal at ${TEMPORAL_ADDRESS:-127.0.0.1:7233} is not healthy after 180 s" >&2
    exit 1
  fi
  sleep 2
done
for name in $ATTRIBUTES; do
  temporal operator search-attribute create --name "$name" --type Keyword
done
echo "search attributes registered: $ATTRIBUTES"
