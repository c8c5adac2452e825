FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /remarket ./cmd/remarket

FROM gcr.io/distroless/static-debian12
COPY --from=build /remarket /usr/local/bin/remarket
USER nonroot
EXPOSE 8080
ENTRYPOINT ["remarket"]
