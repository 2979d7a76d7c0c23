# cgo: a native build, linked against glibc, on a base that has it.
FROM golang:1.26.8-bookworm AS build
WORKDIR /src
COPY . .
RUN CGO_ENABLED=1 go build -o /out/service ./service

FROM distroless/base-debian12
COPY --from=build /out/service /service
ENTRYPOINT ["/service"]
