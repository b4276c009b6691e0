#!/bin/sh
# Runs a Dockerfile build step with the CA bundle of the build host when one is passed as the build
# secret "build-ca" (hack/images/build.sh passes the host's bundle: some networks reach the package
# index only through a TLS proxy with its own CA). A secret is never stored in a layer, so the
# images trust only Debian's CAs. Without the secret, the step runs unchanged.
set -eu
ca=/run/secrets/build-ca
if [ -s "$ca" ]; then
  export SSL_CERT_FILE="$ca" PIP_CERT="$ca" REQUESTS_CA_BUNDLE="$ca"
fi
exec "$@"
