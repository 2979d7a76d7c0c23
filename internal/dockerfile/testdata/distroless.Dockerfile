FROM --platform=$BUILDPLATFORM golang:1.26.8-bookworm AS build
ARG TARGETOS TARGETARCH
WORKDIR /src
COPY . .
RUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH go build -o /service ./service

FROM distroless/static-debian12:nonroot
COPY --from=build /service /service
ENTRYPOINT ["/service"]
