# Multi-stage build: Rust builder -> slim Debian runtime, non-root, config and data as volumes.
FROM rust:1-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends libssl-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p idp-server \
 && strip target/release/idp-server

FROM debian:bookworm-slim
# libssl3: the bundled libpq links OpenSSL for TLS to PostgreSQL; curl: the health check.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libssl3 curl \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 idp \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/idp --create-home idp
COPY --from=build /src/target/release/idp-server /usr/local/bin/idp-server
COPY config/container.toml /etc/idp/idp.toml
ENV IDP_CONFIG=/etc/idp/idp.toml
USER 10001:10001
WORKDIR /var/lib/idp
VOLUME ["/var/lib/idp", "/etc/idp"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s CMD ["curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:8080/healthz"]
ENTRYPOINT ["idp-server"]
CMD ["serve", "--log-format", "json"]
