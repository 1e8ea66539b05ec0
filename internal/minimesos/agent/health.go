package agent

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"time"

	"github.com/hashfleet/hashfleet/internal/mesos"
)

// healthResult is one reportable health-check outcome.
type healthResult struct {
	healthy bool
	kill    bool // consecutive_failures reached: the executor kills the task
}

// runHealthCheck runs a Mesos-native health check until ctx ends, with the
// built-in executors' semantics: wait delay_seconds, then check every
// interval_seconds; failures within grace_period_seconds before the first
// success are ignored; the first success (and the first after a failure)
// and every failure are reported; consecutive_failures failures in a row
// ask for a kill.
func runHealthCheck(ctx context.Context, hc *mesos.HealthCheck, host, sandbox string, env []string, out chan<- healthResult, log *slog.Logger) {
	start := time.Now()
	report := func(r healthResult) bool {
		select {
		case out <- r:
			return true
		case <-ctx.Done():
			return false
		}
	}
	select {
	case <-time.After(hc.Delay()):
	case <-ctx.Done():
		return
	}
	interval := hc.Interval()
	if interval <= 0 {
		interval = 10 * time.Second
	}
	var (
		everHealthy bool
		lastHealthy = false
		failures    uint32
	)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		err := checkOnce(ctx, hc, host, sandbox, env)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			failures = 0
			if !everHealthy || !lastHealthy {
				if !report(healthResult{healthy: true}) {
					return
				}
			}
			everHealthy, lastHealthy = true, true
		} else if everHealthy || time.Since(start) >= hc.GracePeriod() {
			failures++
			lastHealthy = false
			log.Debug("health check failed", "err", err, "consecutive", failures)
			if failures >= hc.MaxConsecutiveFailures() {
				report(healthResult{healthy: false, kill: true})
				return
			}
			if !report(healthResult{healthy: false}) {
				return
			}
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return
		}
	}
}

func checkOnce(ctx context.Context, hc *mesos.HealthCheck, host, sandbox string, env []string) error {
	if t := hc.Timeout(); t > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, t)
		defer cancel()
	}
	switch hc.Type {
	case mesos.HealthTCP:
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(int(hc.TCP.Port))))
		if err != nil {
			return err
		}
		return c.Close()
	case mesos.HealthHTTP:
		scheme := hc.HTTP.Scheme
		if scheme == "" {
			scheme = "http"
		}
		u := fmt.Sprintf("%s://%s%s", scheme, net.JoinHostPort(host, strconv.Itoa(int(hc.HTTP.Port))), hc.HTTP.Path)
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode < 200 || resp.StatusCode >= 400 {
			return fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		return nil
	case mesos.HealthCommand:
		ci := hc.Command
		var cmd *exec.Cmd
		if ci.IsShell() && ci.Value != nil {
			cmd = exec.CommandContext(ctx, "/bin/sh", "-c", *ci.Value)
		} else if ci.Value != nil {
			cmd = exec.CommandContext(ctx, *ci.Value)
			if len(ci.Arguments) > 0 {
				cmd.Args = ci.Arguments
			}
		} else {
			return fmt.Errorf("command health check without a command")
		}
		cmd.Dir, cmd.Env = sandbox, env
		return cmd.Run()
	}
	return fmt.Errorf("unsupported health check type %q", hc.Type)
}
