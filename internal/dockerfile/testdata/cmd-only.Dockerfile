# No ENTRYPOINT: an exec-form CMD is the command; no --platform, so the
# build stage runs on the target platform and go builds for it.
FROM golang:1.26.8-bookworm AS build
WORKDIR /src
COPY . .
RUN CGO_ENABLED=0 go build -o /out/ ./service

FROM scratch
COPY --from=build /out/ /bin/
CMD ["/bin/service"]
