#!/usr/bin/env bash
# `make compose-check`: the on-premise install for real, on this machine, without Docker Hub or a
# Docker engine: Debian's podman (rootful, runc) serves the Docker API, Debian's docker-compose (the
# seed's `docker-compose`) drives it. Base images are built locally with debootstrap; the Python
# wheels come from deploy/wheels/ when it holds them (its README), else from PyPI.
#   1. build the base images (debootstrap, once), the Crossdock image and a stand-in PostgreSQL image
#   2. write a .env from .env.example with generated secrets (as deploy/install.sh does)
#   3. docker-compose up -d, wait until every service is healthy
#   4. seed 000's curls: /health, then the cliente_abc webhook, and check the order landed
# Everything is torn down at the end (containers, volumes, the podman API service).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
work="${COMPOSE_CHECK_DIR:-/tmp/crossdock-compose-check}"
project=crossdockcheck
port="${COMPOSE_CHECK_PORT:-18085}"
export CONTAINERS_CONF="$root/deploy/containers.conf"
mkdir -p "$work"

for tool in podman debootstrap docker-compose curl; do
  command -v "$tool" >/dev/null || { echo "compose-check needs $tool (apt-get install podman debootstrap docker-compose)" >&2; exit 2; }
done

base_image() {  # name, extra packages
  if ! podman image exists "$1"; then
    rm -rf "$work/rootfs-$2"
    debootstrap --variant=minbase --include="$2" bookworm "$work/rootfs-$2" http://deb.debian.org/debian >"$work/debootstrap-$2.log"
    tar -C "$work/rootfs-$2" -c . | podman import - "$1" >/dev/null
    rm -rf "$work/rootfs-$2"
  fi
}
echo "1. images"
# The image build cannot trust this host's TLS set-up, so the wheels come from the host (its README).
if ! ls deploy/wheels/*.whl >/dev/null 2>&1; then
  uv_pin="$(sed -n 's/^ARG UV_VERSION=//p' Dockerfile)"
  python3.11 -m pip download -q --no-deps -r requirements-runtime.lock "uv==$uv_pin" \
    "$(grep '^setuptools==' requirements.lock)" -d deploy/wheels
fi
base_image localhost/crossdock-base:bookworm python3.11,python3.11-venv,python3-distutils,ca-certificates
base_image localhost/crossdock-postgres-base:bookworm postgresql-15
podman build -q --format docker --build-arg BASE_IMAGE=localhost/crossdock-base:bookworm -t localhost/crossdock:check . >/dev/null
podman build -q --format docker -f deploy/postgres-check.Containerfile -t localhost/crossdock-postgres:check . >/dev/null

echo "2. .env"
env_file="$work/.env"
sed -e "s/^CROSSDOCK_PORT=.*/CROSSDOCK_PORT=$port/" \
    -e "s#^CROSSDOCK_PUBLIC_URL=.*#CROSSDOCK_PUBLIC_URL=http://localhost:$port#" \
    -e "s#^CROSSDOCK_IMAGE=.*#CROSSDOCK_IMAGE=localhost/crossdock:check#" \
    -e "s#^POSTGRES_IMAGE=.*#POSTGRES_IMAGE=localhost/crossdock-postgres:check#" \
    -e "s/^CROSSDOCK_DAGSTER_PORT=.*/CROSSDOCK_DAGSTER_PORT=13000/" \
    -e "s/^CROSSDOCK_STREAMLIT_PORT=.*/CROSSDOCK_STREAMLIT_PORT=18501/" .env.example > "$env_file"
for name in POSTGRES_PASSWORD CROSSDOCK_SECRET_KEY CROSSDOCK_ADMIN_TOKEN CROSSDOCK_ADMIN_PASSWORD; do
  sed -i "s/^${name}=$/${name}=$(head -c 48 /dev/urandom | od -An -tx1 | tr -d ' \n' | head -c 40)/" "$env_file"
done
token="$(sed -n 's/^CROSSDOCK_ADMIN_TOKEN=//p' "$env_file")"

echo "3. docker-compose up -d"
socket="$work/podman.sock"
podman system service --time=0 "unix://$socket" >"$work/podman-service.log" 2>&1 &
service_pid=$!
ticker_pid=""
compose=(docker-compose -p "$project" --env-file "$env_file" -f "$root/docker-compose.yml")
export DOCKER_HOST="unix://$socket"
cleanup() {
  "${compose[@]}" logs --no-color >"$work/compose.log" 2>&1 || true
  "${compose[@]}" down -v --remove-orphans >/dev/null 2>&1 || true
  # podman may refuse to remove the code server while the daemon still shares its pid namespace: again, directly
  podman rm -f $(podman ps -aq --filter "label=com.docker.compose.project=$project") >/dev/null 2>&1 || true
  podman volume rm -f "${project}_postgres-data" "${project}_crossdock-home" >/dev/null 2>&1 || true
  kill "$ticker_pid" 2>/dev/null || true
  kill "$service_pid" 2>/dev/null || true
}
trap cleanup EXIT
for _ in $(seq 1 50); do [ -S "$socket" ] && break; sleep 0.2; done
# Podman schedules healthchecks with systemd timers; where PID 1 is not systemd, run them here.
( while true; do
    for id in $(podman ps -q --filter "label=com.docker.compose.project=$project"); do
      podman healthcheck run "$id" >/dev/null 2>&1 || true
    done
    sleep 5
  done ) &
ticker_pid=$!
"${compose[@]}" up -d --no-build

healthy() {
  local ids; ids="$("${compose[@]}" ps -q receiver dagster-code-server dagster-webserver dagster-daemon streamlit postgres)"
  [ "$(podman inspect --format '{{.State.Health.Status}}' $ids | sort -u)" = "healthy" ]
}
for _ in $(seq 1 120); do healthy && break; sleep 5; done
"${compose[@]}" ps
healthy || { echo "not every service became healthy: $work/compose.log" >&2; exit 1; }

echo "4. seed 000's curls"
curl -fsS -m 30 "http://localhost:$port/health"; echo
curl -fsS -m 30 -o /dev/null -X POST "http://localhost:$port/integrations" -H "Authorization: Bearer $token" \
  -H "Content-Type: application/json" \
  -d '{"name": "cliente_abc", "type": "webhook", "auth_type": "apikey", "auth_value": "secreto_compartido", "is_active": true}'
curl -fsS -m 30 -X POST "http://localhost:$port/webhook/cliente_abc" \
  -H "Content-Type: application/json" \
  -H "X-API-Key: secreto_compartido" \
  -d '[
    {
      "external_id": "PED-001",
      "client_name": "María García",
      "address": "Zona 15, Guatemala",
      "latitude": 14.5800,
      "longitude": -90.4900
    }
  ]' | tee "$work/answer.json"; echo
grep -q '"created":1' "$work/answer.json"
landed="$("${compose[@]}" exec -T postgres psql -U crossdock -d crossdock -tAc "SELECT external_id FROM orders")"
[ "$landed" = "PED-001" ] || { echo "the order did not land: '$landed'" >&2; exit 1; }
echo "compose-check passed: every service healthy, seed 000's webhook landed PED-001"
