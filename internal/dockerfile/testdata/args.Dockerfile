# Build arguments, ARG defaults and ENV, in the FROM line and the build.
ARG GO_IMAGE=golang:1.26.8-bookworm
ARG VERSION=dev
FROM --platform=$BUILDPLATFORM ${GO_IMAGE} AS build
ARG TARGETOS TARGETARCH VERSION
ARG PACKAGE=./svc
ARG TAGS="netgo osusergo"
ENV CGO_ENABLED=0 GOFLAGS=-buildvcs=false
WORKDIR /work
COPY go.mod ./
COPY service ./svc
RUN cd /work && GOOS=$TARGETOS GOARCH=$TARGETARCH go build -tags "$TAGS" \
      -ldflags "-X main.version=${VERSION}" -o /out/app "${PACKAGE}" && echo built

FROM scratch
COPY --from=build /out/app /app
ENTRYPOINT ["/app"]
