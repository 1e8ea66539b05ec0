.PHONY: build test image ci
build:
	CGO_ENABLED=0 go build -trimpath -ldflags=-s -o bin/hashfleet ./cmd/hashfleet
test:
	go test -race ./...
image:
	deploy/docker/build.sh hashfleet:latest
ci:
	bash .ci/run
