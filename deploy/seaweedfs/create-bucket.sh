#!/bin/sh
# Creates GuardianFlow's S3 bucket (MLflow's artifact store and every upload of the workers) unless
# it is there: the `create-bucket` service of docker-compose.yml runs it once against SeaweedFS, and
# scripts/prod-check.sh runs it against its own SeaweedFS. `weed shell` talks to the master and filer
# over gRPC (no S3 credentials needed); an address is host:port, or host:port.grpcPort when the gRPC
# port is not port + 10000.
set -eu
BUCKET=${GF_S3_BUCKET:-guardianflow}
MASTER=${WEED_MASTER:-seaweedfs:9333}
FILER=${WEED_FILER:-seaweedfs:8888}
WEED=${WEED:-weed}

weed_shell() {
  echo "$1" | timeout 60 "$WEED" shell -master="$MASTER" -filer="$FILER"
}

if weed_shell "s3.bucket.list" | awk '{ print $1 }' | grep -qx "$BUCKET"; then
  echo "bucket $BUCKET already exists"
  exit 0
fi
weed_shell "s3.bucket.create -name $BUCKET"
weed_shell "s3.bucket.list" | awk '{ print $1 }' | grep -qx "$BUCKET" || { echo "bucket $BUCKET was not created" >&2; exit 1; }
echo "bucket $BUCKET created"
