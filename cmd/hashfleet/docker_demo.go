package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/hashfleet/hashfleet/internal/dockerapi"
	"github.com/hashfleet/hashfleet/internal/minimesos/agent"
)

// dockerDemoPrefix begins the names of the demo's Docker networks.
const dockerDemoPrefix = "hashfleet-demo-"

// agentWorkDirLabel marks the minimesos agent's containers (valued with
// its work directory).
const agentWorkDirLabel = agent.LabelWorkDir

// setupDockerDemo checks the engine and the image and creates the demo's
// network (removing those of earlier demos that were killed), which the
// scheduler puts every task on (Mesos USER networking); agents is the work
// directory of the agents that will run the containers, whose containers
// the network's Close also removes. The caller must Close it once the
// agents have stopped.
func setupDockerDemo(ctx context.Context, socket, image, agents string, log *slog.Logger) (*dockerapi.Network, error) {
	if err := dockerapi.Available(ctx, socket); err != nil {
		return nil, fmt.Errorf("demo: --containerizer docker: no Docker Engine at %s: %w", socket, err)
	}
	eng := dockerapi.New(socket)
	if err := eng.InspectImage(ctx, image); err != nil {
		if dockerapi.IsNotFound(err) {
			return nil, fmt.Errorf("demo: image %s not found: build it with deploy/docker/build.sh %s (or make image)", image, image)
		}
		return nil, fmt.Errorf("demo: image %s: %w", image, err)
	}
	n, err := dockerapi.CreateNetwork(ctx, eng, dockerapi.NetworkConfig{Prefix: dockerDemoPrefix,
		MemberLabel: agentWorkDirLabel, MemberDir: agents, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	return n, nil
}
