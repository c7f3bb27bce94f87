# talkrelay's container image: worker (the entrypoint), enqueue, dlq and admin, static
# binaries on a distroless base, running as a non-root user, no shell.
# Build it with `make image` (VERSION is `git describe`). At run time the worker
# needs only its config file (/etc/talkrelay/config.yaml) and secret files or
# variables; the Helm chart in deploy/helm/talkrelay mounts them.

FROM golang:1.26.8 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=devel
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X github.com/talkrelay/talkrelay/internal/buildinfo.version=${VERSION}" \
      -o /out/ ./cmd/worker ./cmd/enqueue ./cmd/dlq ./cmd/admin

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/worker /out/enqueue /out/dlq /out/admin /usr/local/bin/
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/worker"]
CMD ["--config=/etc/talkrelay/config.yaml"]
