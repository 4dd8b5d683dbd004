# PicShare's one binary in a slim image, for either shape: `serve` (embedded, SQLite under
# /var/lib/picshare) by default, or `api` / `worker` / `migrate` / `batch <job>` (scaled;
# compose.yaml). Runs as an unprivileged user.
FROM rust:1.89-bookworm AS build
# cmake and nasm build the bundled libjpeg-turbo; SQLite is bundled too.
RUN apt-get update \
  && apt-get install -y --no-install-recommends cmake nasm \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Cargo.toml Cargo.lock rustfmt.toml ./
# Build settings: SQLite's memory-mapping limit (.cargo/config.toml).
COPY .cargo .cargo
COPY crates crates
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p picshare --bin picshare \
  && cp target/release/picshare /usr/local/bin/picshare

FROM debian:bookworm-slim
RUN apt-get update \
  && apt-get install -y --no-install-recommends ca-certificates \
  && rm -rf /var/lib/apt/lists/* \
  && useradd --system --uid 10001 --user-group --home-dir /var/lib/picshare picshare \
  && mkdir -p /var/lib/picshare/keys \
  && chown -R picshare:picshare /var/lib/picshare
COPY --from=build /usr/local/bin/picshare /usr/local/bin/picshare
USER 10001:10001
ENV PICSHARE_LISTEN=0.0.0.0:8080 \
    PICSHARE_DATA_DIR=/var/lib/picshare \
    PICSHARE_LOG_FORMAT=json
VOLUME /var/lib/picshare
EXPOSE 8080
ENTRYPOINT ["picshare"]
CMD ["serve"]
