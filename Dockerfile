# lockstep: the production binary (`--no-default-features`: no local servers, no
# axum) in a small image. Two stages: the build stage compiles with the pinned
# toolchain; the runtime stage holds the binary, CA certificates and the ssh
# client (a runner template may reach the bench host over ssh), and runs as a
# non-root user with the store on a volume. See README "Packaging".

FROM docker.io/library/rust:1.95-slim-bookworm AS build
WORKDIR /src
# The whole workspace: `sim` is a member even when the production build leaves it out.
COPY . .
RUN cargo build --release --locked --no-default-features --bin lockstep \
    && strip target/release/lockstep

FROM docker.io/library/debian:bookworm-slim AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates openssh-client \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 lockstep \
    && useradd --system --uid 10001 --gid lockstep --home-dir /var/lib/lockstep \
        --shell /usr/sbin/nologin lockstep \
    && install -d -o lockstep -g lockstep -m 0700 /var/lib/lockstep \
    && install -d -m 0755 /etc/lockstep
COPY --from=build /src/target/release/lockstep /usr/local/bin/lockstep
# The store (sled files and the audit log beside them): set `[store] path =
# "/var/lib/lockstep/lockstep.db"` in the configuration and mount a volume here.
VOLUME ["/var/lib/lockstep"]
WORKDIR /var/lib/lockstep
USER 10001:10001
# `[metrics] listen = "0.0.0.0:9187"` inside the container: /metrics, /healthz, /readyz.
EXPOSE 9187
ENTRYPOINT ["/usr/local/bin/lockstep"]
CMD ["run", "--config", "/etc/lockstep/lockstep.toml", "--log-format", "json"]
