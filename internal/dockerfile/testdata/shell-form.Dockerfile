FROM --platform=$BUILDPLATFORM golang:1.26.8-bookworm AS build
ARG TARGETOS TARGETARCH
WORKDIR /src
COPY . .
RUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH go build -o /out/service ./service

FROM debian:bookworm-slim
COPY --from=build /out/service /usr/local/bin/service
# Shell form: /bin/sh -c is PID 1 and SIGTERM never reaches the server.
ENTRYPOINT /usr/local/bin/service
