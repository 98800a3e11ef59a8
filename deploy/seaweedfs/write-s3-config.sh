#!/bin/sh
# Writes SeaweedFS's S3 identity file (`weed server -s3.config=FILE`) from AWS_ACCESS_KEY_ID and
# AWS_SECRET_ACCESS_KEY, so the key lives in the environment (compose's .env, a secret store) and
# never in a file of this repository. The seaweedfs service of docker-compose.yml runs it before
# `weed server`; scripts/prod-check.sh runs it for its own SeaweedFS. Keys: letters, digits, - _ / +.
set -eu
out=${1:?usage: write-s3-config.sh OUT.json}
: "${AWS_ACCESS_KEY_ID:?set AWS_ACCESS_KEY_ID}"
: "${AWS_SECRET_ACCESS_KEY:?set AWS_SECRET_ACCESS_KEY}"
for key in "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY"; do
  case $key in
    *[!A-Za-z0-9_/+=-]*) echo "write-s3-config.sh: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY may hold only letters, digits and - _ / + =" >&2; exit 2 ;;
  esac
done
umask 077
cat > "$out" <<JSON
{
  "identities": [
    {
      "name": "guardianflow",
      "credentials": [{ "accessKey": "$AWS_ACCESS_KEY_ID", "secretKey": "$AWS_SECRET_ACCESS_KEY" }],
      "actions": ["Admin", "Read", "Write", "List", "Tagging"]
    }
  ]
}
JSON
