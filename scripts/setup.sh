#!/usr/bin/env bash
# Installs the Debian packages the build, the tests and the demo need, when any is missing. Idempotent.
set -euo pipefail

packages=(
  pkg-config            # SwiftPM finds librabbitmq through it
  librabbitmq-dev       # librabbitmq-c 0.11, the AMQP client library we wrap
  libssl-dev            # TLS for librabbitmq-c
  openssl               # certificates for the private broker's TLS listener
  rabbitmq-server       # the private broker for tests and the demo
  libsqlite3-dev        # SQLite for the embedded stores (GRDB)
  postgresql            # a private PostgreSQL cluster for the PostgreSQL store's tests
  iproute2              # ip netns, veth and bridge links for make faults' network-partition scenario
  valgrind              # callgrind counts instructions per event for make bench's bus-cpu row
  docker-compose        # validates docker/docker-compose.yml (`docker-compose config`) without an engine
)

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "setup: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# The package's post-install tries to start a system broker; policy-rc.d denies that where there is no init.
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: done"
