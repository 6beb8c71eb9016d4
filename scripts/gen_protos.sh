#!/bin/sh
# Regenerate the committed Python protobuf modules from Tidewell's own .proto files.
# Usage: scripts/gen_protos.sh   (needs grpcio-tools: pip install grpcio-tools)
set -eu
cd "$(dirname "$0")/.."
SRC=src/tidewell/protocol/proto
OUT=src/tidewell/protocol/pb
python -m grpc_tools.protoc -I"$SRC" --python_out="$OUT" --pyi_out="$OUT" \
    "$SRC/prompb.proto" "$SRC/writev2.proto" "$SRC/internal.proto" "$SRC/ingester_meta.proto" \
    "$SRC/rules.proto"
echo "generated into $OUT"
