package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"
)

// newProbeCmd is the container health check: it exits 0 when the target
// answers. It exists because the image is FROM scratch (no curl, no shell).
func newProbeCmd() *cobra.Command {
	var url, tcp string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "probe",
		Short: "Health probe for containers: GET an http URL or dial a TCP address",
		Long: "probe exits 0 when --url answers 2xx or --tcp accepts a connection. Without flags it reads\n" +
			"HASHFLEET_HEALTH_URL or HASHFLEET_HEALTH_TCP; with neither set it reports healthy.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if url == "" && tcp == "" {
				url, tcp = os.Getenv("HASHFLEET_HEALTH_URL"), os.Getenv("HASHFLEET_HEALTH_TCP")
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			return probe(ctx, url, tcp)
		},
	}
	cmd.Flags().StringVar(&url, "url", "", "http URL that must answer 2xx")
	cmd.Flags().StringVar(&tcp, "tcp", "", "host:port that must accept a TCP connection")
	cmd.Flags().DurationVar(&timeout, "timeout", 3*time.Second, "give up after this long")
	return cmd
}

func probe(ctx context.Context, url, tcp string) error {
	if tcp != "" {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", tcp)
		if err != nil {
			return fmt.Errorf("probe: %w", err)
		}
		_ = c.Close()
	}
	if url != "" {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return fmt.Errorf("probe: %w", err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return fmt.Errorf("probe: %w", err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			return errors.New("probe: " + url + ": " + resp.Status)
		}
	}
	return nil
}
