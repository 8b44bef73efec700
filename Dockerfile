# Builds the ledger binary; docker-compose.yml runs it beside a NATS cluster.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /ledger ./cmd/ledger

FROM gcr.io/distroless/static-debian12
COPY --from=build /ledger /ledger
ENTRYPOINT ["/ledger"]
