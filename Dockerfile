# The service image: a static Go binary on an empty base.
#
# The CDK asset builds it for linux/amd64, because Fargate Spot runs X86_64
# only. The build stage runs on the build host's own platform
# ($BUILDPLATFORM) and cross-compiles for $TARGETOS/$TARGETARCH, so an arm64
# laptop builds the image without emulation.
#
# To pin the build image by digest as well as tag, write image:tag@sha256:...,
# e.g. golang:1.26.8-bookworm@sha256:<digest from docker buildx imagetools inspect>.
FROM --platform=$BUILDPLATFORM golang:1.26.8-bookworm AS build
ARG TARGETOS TARGETARCH
WORKDIR /src
COPY go.mod go.sum ./
COPY service ./service
# No "go mod download": go.mod also lists the CDK modules, and go build
# fetches only what ./service imports.
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags="-s -w" -o /out/service ./service

# The binary needs no libc, CA certificates or shell. As PID 1 it gets ECS's
# SIGTERM directly (exec form) and handles it itself.
FROM scratch
COPY --from=build /out/service /service
USER 65532:65532
EXPOSE 5000
ENTRYPOINT ["/service"]
