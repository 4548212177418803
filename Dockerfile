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
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates git \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 65532 --home-dir /var/lib/operator --create-home operator
COPY --from=build /out/bedrock-chat-operator /usr/local/bin/bedrock-chat-operator
USER 65532
WORKDIR /var/lib/operator
EXPOSE 8080
ENTRYPOINT ["bedrock-chat-operator"]
CMD ["run"]
