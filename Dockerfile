# syntax=docker/dockerfile:1
# gitseal-controller image. Multi-stage: build with the Rust toolchain, run on
# distroless (glibc, no shell, no package manager) as a non-root user.
#   docker build -t ghcr.io/gitseal/gitseal-controller:0.1.0 .
FROM docker.io/library/rust:1.89-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p gitseal-controller -p gitseal \
 && install -D target/release/gitseal-controller target/release/gitseal -t /out

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/ /usr/local/bin/
USER 65532:65532
EXPOSE 8080 8081
ENTRYPOINT ["/usr/local/bin/gitseal-controller"]
