# The service image: a static Go binary on an empty base, plus the CA
# certificates and time-zone data a real app needs.
#
# The CDK asset builds it for the platform of the cpuArchitecture context
# key: linux/arm64 (Graviton, the default) or linux/amd64. The build stage
# runs on the build host's own platform ($BUILDPLATFORM) and cross-compiles
# for $TARGETOS/$TARGETARCH, and the runtime stage runs nothing, so any
# machine builds the image for either architecture without an emulator.
#
# To pin the build image by digest as well as tag, write image:tag@sha256:...,
# e.g. golang:1.26.8-bookworm@sha256:<digest from docker buildx imagetools inspect>.
FROM --platform=$BUILDPLATFORM golang:1.26.8-bookworm AS build
ARG TARGETOS TARGETARCH
# PACKAGE is the main package to build: the app's own service, or one of
# the services key's, whose asset sets it (stacks/image.go).
ARG PACKAGE=./service
WORKDIR /src
COPY go.mod go.sum ./
# .dockerignore leaves only the module's non-test Go code and service/.
COPY . .
# No "go mod download": go.mod also lists the CDK modules, and go build
# fetches only what $PACKAGE imports.
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags="-s -w" -o /out/service $PACKAGE
# An empty /tmp, world-writable and sticky like any /tmp, for the runtime
# stage below. It goes in a directory of its own, copied whole: COPY of a
# directory copies its contents, and would create /tmp itself as 0755.
RUN mkdir -p /out/root && mkdir -m 1777 /out/root/tmp

# The runtime stage is scratch plus what the build stage already has: the
# Debian CA bundle (for HTTPS calls, the AWS SDK's included) and the IANA
# time-zone database (for time.LoadLocation). Copying them, rather than
# basing on a distroless image, adds no second image to pull and pin, and
# it can be checked on a machine that reaches no registry. They are as
# current as the pinned build image; a build image without them fails the
# build here rather than the app at run time.
FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /usr/share/zoneinfo /usr/share/zoneinfo
COPY --from=build /out/service /service
# The root file system is read-only; /tmp is a volume. Fargate gives a task
# volume mounted at a VOLUME path that directory's permissions (otherwise
# root-owned 0755, which UID 65532 could not write to), and docker run makes
# it an anonymous volume unless --tmpfs /tmp replaces it.
COPY --from=build /out/root/ /
VOLUME ["/tmp"]
# The binary needs no libc or shell. As PID 1 it gets ECS's SIGTERM
# directly (exec form) and handles it itself.
USER 65532:65532
EXPOSE 5000
ENTRYPOINT ["/service"]
