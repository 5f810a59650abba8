# syntax=docker/dockerfile:1
#
# Pforte's container image: the static binary of deploy/build.sh on a
# distroless base (no shell, no package manager), running as a non-root
# user, writing only below /var/lib/pforte (a volume), so the root file
# system can be mounted read-only.
#
#   docker build -t pforte:local --build-arg VERSION="$(git describe --always --dirty)" .
#
# deploy/compose.yaml runs it with PostgreSQL behind a TLS proxy; README.md,
# "Operating Pforte", describes the image, its volume and its health check.

# The Go of go.mod's toolchain line; deploy/build.sh pins GOTOOLCHAIN to it.
ARG GO_IMAGE=golang:1.27.3-bookworm
# Static, with CA certificates, time zones and /etc/passwd's nonroot user
# (65532). Pin it by digest in a release pipeline.
ARG RUNTIME_IMAGE=gcr.io/distroless/static-debian12:nonroot

FROM ${GO_IMAGE} AS build
WORKDIR /src
# Modules first, so that a change to the code does not download them again.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG VERSION=dev
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    sh deploy/build.sh /out/pforte "$VERSION"
# The data directory with the letter outbox, owned by the user Pforte runs
# as: a named volume mounted there starts with this owner.
RUN mkdir -p /out/var/lib/pforte/outbox && chmod -R 0700 /out/var/lib/pforte

FROM ${RUNTIME_IMAGE}
COPY --from=build /out/pforte /usr/local/bin/pforte
COPY --from=build --chown=65532:65532 /out/var/lib/pforte /var/lib/pforte
USER 65532:65532
WORKDIR /var/lib/pforte
ENV PFORTE_DATA_DIR=/var/lib/pforte
VOLUME ["/var/lib/pforte"]
# 8080: the public listener (behind the TLS proxy); 9090: the admin
# listener (health, metrics, profiles) when server.admin_addr sets it.
EXPOSE 8080 9090
# The binary asks its own admin listener's /readyz (server.admin_addr);
# there is no shell or curl in the image.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/usr/local/bin/pforte", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/pforte"]
CMD ["serve"]
