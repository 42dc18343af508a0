# syntax=docker/dockerfile:1
#
# duckhaul's container: `docker build -t duckhaul .`
#
# Three build stages so the slow part is cached: `cargo chef cook` compiles the dependencies
# (DuckDB's bundled C++ is most of a cold build, 30-45 minutes on 2 cores) from a recipe that
# only changes when Cargo.toml/Cargo.lock do; a change to duckhaul's own code then rebuilds in
# a minute or two. The final image holds the binary and nothing else.

ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-bookworm AS chef
# The full (non-slim) image: DuckDB's bundled C++ needs g++.
RUN cargo install cargo-chef --locked --version ^0.1
WORKDIR /src

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
COPY --from=planner /src/recipe.json recipe.json
# The dependency layer: rebuilt only when the recipe (the manifests and the lockfile) changes.
RUN cargo chef cook --release --locked --recipe-path recipe.json
COPY . .
RUN cargo build --release --locked --bin duckhaul \
    && install -D -m 0755 target/release/duckhaul /out/duckhaul \
    # The volume's mount point, owned by the runtime user: a fresh named volume copies these
    # permissions, so the non-root process can create the database and the exports in it.
    && install -d -m 0755 /out/data /out/data/exports

# distroless/cc: glibc, libstdc++ (DuckDB is C++), CA certificates and a passwd file with an
# unprivileged user; no shell, no package manager. Built on Debian 12 like the builder stage,
# so the binary finds the glibc it was linked against.
FROM gcr.io/distroless/cc-debian12:nonroot AS runtime
COPY --from=builder /out/duckhaul /usr/local/bin/duckhaul
COPY --from=builder --chown=65532:65532 /out/data /data

# The DuckDB file, the staging folder for snapshots (beside the database) and the local
# exports all live under /data. Mount a volume there to keep them across restarts; on Cloud
# Run see deploy/cloudrun-service.yaml.
VOLUME ["/data"]
ENV DUCKHAUL_DATABASE=/data/duckhaul.duckdb \
    DUCKHAUL_DESTINATION=/data/exports \
    PORT=8080

# 65532 is distroless's `nonroot`.
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["duckhaul"]
CMD ["serve"]
