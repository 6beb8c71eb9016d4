#!/usr/bin/env bash
# Builds the UI bundle from the npm packages pinned in package-lock.json into
# src/tidewell/ui/static/ (app.js, app.css), which is committed: the server needs no Node.
# Run after changing ui/web/src or the dependencies, then commit the output.
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund
npm run build
