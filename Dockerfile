# syntax=docker/dockerfile:1
#
# natsauth: one static Go binary (CGO_ENABLED=0; SQLite is pure Go) on an
# empty base image, running as a non-root user, serving NATS with JetStream
# and monitoring by default.
#
#   docker build -t natsauth .
#   docker volume create natsauth-data
#   docker run --rm -v natsauth-data:/data --entrypoint natsauth natsauth init --name MyOperator
#   docker run -d --name natsauth -p 4222:4222 -p 8222:8222 -v natsauth-data:/data natsauth
#
# The home (operator, accounts, keys, creds, the SQLite store, JetStream
# data) lives in the volume /data (NATSAUTH_HOME). Other commands:
#   docker run --rm -v natsauth-data:/data --entrypoint natsauth natsauth add account -n MyAccount
#
# Nothing here runs in CI (no container engine there): cmd/natsauth's
# TestStaticBuild builds the binary the same way and checks it is static,
# and TestDeployCommands checks the commands below against the CLI.

ARG GO_VERSION=1.26

FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/rootfs/usr/local/bin/natsauth ./cmd/natsauth
# The runtime's files: CA roots (https account servers, PostgreSQL over
# TLS), a passwd entry for the non-root user, /tmp, and the home.
RUN set -eu; cd /out/rootfs; \
    mkdir -p etc/ssl/certs tmp data; \
    cp /etc/ssl/certs/ca-certificates.crt etc/ssl/certs/; \
    echo 'natsauth:x:65532:65532:natsauth:/data:/sbin/nologin' > etc/passwd; \
    echo 'natsauth:x:65532:' > etc/group; \
    chmod 1777 tmp; chmod 0700 data; chown 65532:65532 data

FROM scratch
COPY --from=build /out/rootfs/ /
ENV NATSAUTH_HOME=/data
USER 65532:65532
WORKDIR /data
VOLUME ["/data"]
# 4222 clients, 6222 cluster routes, 8222 monitoring, 9090 account server
EXPOSE 4222 6222 8222 9090
HEALTHCHECK --interval=10s --timeout=5s --start-period=15s --retries=5 \
    CMD ["natsauth", "healthcheck", "--url", "http://127.0.0.1:8222/healthz"]
ENTRYPOINT ["natsauth", "serve"]
CMD ["--js", "-m", "8222"]
