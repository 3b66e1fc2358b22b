# syntax=docker/dockerfile:1
# flotilla's container image: the release binary on a slim Debian base, run as an
# unprivileged user, data under /data (a volume). One image for both shapes in
# deploy/: a single node on its embedded SQLite store, or replicas on PostgreSQL
# and an S3 bucket (configured by FLOTILLA_* environment variables).
#
#   docker build -t flotilla .
#   docker run -p 5000:5000 -v flotilla-data:/data -e FLOTILLA_ADMIN_PASSWORD=... flotilla

FROM rust:1.95-trixie AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p flotilla \
 && install -D -m 0755 target/release/flotilla /out/flotilla

FROM debian:trixie-slim
# ca-certificates: TLS to S3, PostgreSQL and alert webhooks. Unpinned on purpose:
# a rebuild picks up Debian's security updates.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /data --shell /usr/sbin/nologin flotilla \
 && install -d -o flotilla -g flotilla -m 0750 /data
COPY --from=build /out/flotilla /usr/local/bin/flotilla
USER 10001:10001
# Listening on every interface needs authentication (the server refuses otherwise):
# the first admin's password comes from FLOTILLA_ADMIN_PASSWORD, or is printed once.
ENV FLOTILLA_DATA_DIR=/data \
    FLOTILLA_HOST=0.0.0.0 \
    FLOTILLA_PORT=5000 \
    FLOTILLA_AUTH=basic
VOLUME ["/data"]
EXPOSE 5000
ENTRYPOINT ["/usr/local/bin/flotilla"]
CMD ["server"]
