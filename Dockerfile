# Multi-stage build: compile in the Rust image, run in a small non-root image.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY charts ./charts
RUN cargo build --release --locked \
 && install -D target/release/bedrock-chat-operator /out/bedrock-chat-operator

FROM debian:bookworm-slim
# CA certificates for AWS endpoints; git for the --git-url desired-state source.
# Package versions follow the pinned base image's release; pinning each would break
# the build whenever Debian moves a point release.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates git \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 65532 operator \
 && useradd --system --uid 65532 --gid 65532 --home-dir /work --no-create-home operator \
 && install -d -o 65532 -g 65532 -m 0755 /work
COPY --from=build /out/bedrock-chat-operator /usr/local/bin/bedrock-chat-operator
USER 65532:65532
# The operator's writable place (the Git checkout lives in $HOME): on Fargate a bind
# mount is created root-owned, 0755, unless the image declares the path with VOLUME,
# and then ECS copies the image's directory - owner included - into the volume (ECS
# Developer Guide, "Use bind mounts"). charts/operator.yaml mounts its scratch volume
# here with a read-only root filesystem.
ENV HOME=/work
VOLUME ["/work"]
WORKDIR /work
EXPOSE 8080
ENTRYPOINT ["bedrock-chat-operator"]
CMD ["run"]
