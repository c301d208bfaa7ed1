#!/usr/bin/env bash
# The network floor: every blob a pull needs, fetched in parallel straight from the
# registry by curl into /dev/null. Nothing else is done.
#
#   netfloor.sh URLS PARALLEL          URLS: one blob URL a line
set -euo pipefail
urls=$1 parallel=$2
sed 's/.*/url = "&"\noutput = "\/dev\/null"/' "$urls" \
  | curl --no-progress-meter --show-error --fail --parallel --parallel-max "$parallel" --config -
