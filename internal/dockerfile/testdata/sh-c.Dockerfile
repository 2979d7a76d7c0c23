FROM golang:1.26.8-bookworm AS build
WORKDIR /src
COPY . .
RUN CGO_ENABLED=0 go build -o /out/service ./service

FROM debian:bookworm-slim
COPY --from=build /out/service /service
ENTRYPOINT ["/bin/sh", "-c", "/service"]
