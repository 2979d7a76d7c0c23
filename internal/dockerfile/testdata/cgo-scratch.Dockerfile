FROM golang:1.26.8-bookworm AS build
WORKDIR /src
COPY . .
# CGO_ENABLED unset in a native build: go uses cgo, as the golang image
# has a C compiler, and links libc dynamically.
RUN go build -o /out/service ./service

FROM scratch
COPY --from=build /out/service /service
ENTRYPOINT ["/service"]
