.PHONY: build test image ci doctor
build:
	CGO_ENABLED=0 go build -trimpath -ldflags=-s -o bin/hashfleet ./cmd/hashfleet
test:
	go test -race -timeout 30m ./...
image:
	deploy/docker/build.sh hashfleet:latest
doctor:
	go run ./cmd/hashfleet doctor
ci:
	bash .ci/run
