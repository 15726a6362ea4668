# Build: cgo is needed by the SQLite driver.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=1 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/portico ./cmd/portico

# Run: a small Debian image with CA certificates, as a non-root user.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 portico \
 && useradd --system --uid 10001 --gid portico --home-dir /data --shell /usr/sbin/nologin portico \
 && mkdir -p /data /certs \
 && chown portico:portico /data \
 && chmod 0700 /data
COPY --from=build /out/portico /usr/local/bin/portico
USER portico
ENV PORTICO_DATA=/data \
    PORTICO_CERTS=/certs \
    PORTICO_LISTEN=:8443 \
    PORTICO_HTTP_LISTEN=:8080
VOLUME ["/data", "/certs"]
EXPOSE 8443 8080
ENTRYPOINT ["portico"]
CMD ["serve"]
