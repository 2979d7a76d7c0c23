FROM --platform=$BUILDPLATFORM golang:1.26.8-bookworm AS build
WORKDIR /src
COPY . .
RUN CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -o /out/service ./service

FROM --platform=linux/amd64 scratch
COPY --from=build /out/service /service
ENTRYPOINT ["/service"]
