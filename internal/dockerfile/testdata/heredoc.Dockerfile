# A heredoc RUN that changes directory before the build.
FROM --platform=$BUILDPLATFORM golang:1.26.8-bookworm AS build
ARG TARGETOS TARGETARCH
WORKDIR /src
COPY . .
RUN <<EOF
set -e
cd service
CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
  go build -o /out/service .
EOF

FROM scratch
COPY --from=build /out/service /service
ENTRYPOINT ["/service"]
