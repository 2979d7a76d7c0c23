# cgo in a stage on the build machine's platform, for the target's.
FROM --platform=$BUILDPLATFORM golang:1.26.8-bookworm AS build
ARG TARGETOS TARGETARCH
WORKDIR /src
COPY . .
RUN CGO_ENABLED=1 GOOS=$TARGETOS GOARCH=$TARGETARCH go build -o /out/service ./service

FROM distroless/base-debian12
COPY --from=build /out/service /service
ENTRYPOINT ["/service"]
