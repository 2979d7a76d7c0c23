FROM --platform=$BUILDPLATFORM golang:1.26.8-bookworm AS build
ARG TARGETOS TARGETARCH
WORKDIR /src
COPY . .
RUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH go build -o /out/service ./service

FROM scratch
COPY config/*.json /etc/service/
COPY service/*.json /etc/service/
COPY --from=build /out/service /service
ENTRYPOINT ["/service"]
