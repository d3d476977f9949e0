#!/usr/bin/env bash
# Crossdock's on-premise install, seed 000's four steps ("Script de Instalación"), run from a clone
# of the repository:
#   1. cp .env.example .env          (kept if it exists: re-running never replaces your secrets)
#   2. fill in the secrets           (random values for every empty secret; edit the rest by hand)
#   3. docker-compose up -d          (builds the image on the first run)
#   4. curl http://localhost:8085/health   (waits until the receiver answers)
# COMPOSE overrides the command (default: docker-compose, else `docker compose`).
# docs/install.md describes the requirements, the client database override, upgrades and backups.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -n "${COMPOSE:-}" ]; then
  read -r -a compose <<<"$COMPOSE"
elif command -v docker-compose >/dev/null; then
  compose=(docker-compose)
else
  compose=(docker compose)
fi

# 1. Configure
if [ ! -f .env ]; then
  cp .env.example .env
  chmod 600 .env
  echo "created .env from .env.example"
fi

# 2. Secrets: random letters and digits (safe inside a URL), never printed.
random_secret() { head -c 48 /dev/urandom | od -An -tx1 | tr -d ' \n' | head -c 40; }
for name in POSTGRES_PASSWORD CROSSDOCK_SECRET_KEY CROSSDOCK_ADMIN_TOKEN CROSSDOCK_ADMIN_PASSWORD; do
  if grep -q "^${name}=$" .env; then
    sed -i "s/^${name}=$/${name}=$(random_secret)/" .env
    echo "generated ${name} in .env"
  fi
done
echo "review .env (CROSSDOCK_PUBLIC_URL, published ports) before exposing the machine"

# 3. Start
"${compose[@]}" up -d

# 4. Verify: the receiver's /health, polled until it answers (first start builds and migrates).
port="$(sed -n 's/^CROSSDOCK_PORT=//p' .env)"
url="http://localhost:${port:-8085}/health"
for _ in $(seq 1 120); do
  if curl -fsS -m 10 "$url"; then
    echo
    echo "Crossdock is up: $url"
    exit 0
  fi
  sleep 5
done
echo "the receiver did not answer at $url within 10 minutes: see '${compose[*]} ps' and '${compose[*]} logs receiver'" >&2
exit 1
