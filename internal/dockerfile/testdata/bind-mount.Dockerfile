# No COPY: the build binds the context, and a directory that is not there.
FROM --platform=$BUILDPLATFORM golang:1.26.8-bookworm AS build
ARG TARGETOS TARGETARCH
WORKDIR /src
RUN --mount=type=bind,target=. \
    --mount=type=bind,source=vendor,target=/vendor \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH go build -o /out/service ./service

FROM scratch
COPY --from=build /out/service /service
ENTRYPOINT ["/service"]
