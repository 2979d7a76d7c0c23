FROM --platform=$BUILDPLATFORM golang:1.26.8-bookworm AS build
ARG TARGETOS TARGETARCH
WORKDIR /src
COPY go.mod ./
COPY service/ ./service/
RUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH go build -o /out/notes ./service

FROM scratch AS runtime
COPY notes.yaml /etc/notes.yaml
COPY --from=build /out/notes /notes
ENTRYPOINT ["/notes", "-config", "/etc/notes.yaml"]
