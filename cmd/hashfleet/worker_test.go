package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashfleet/hashfleet/internal/miner"
	"github.com/hashfleet/hashfleet/internal/miner/minertest"
	"github.com/hashfleet/hashfleet/internal/porttest"
	"github.com/hashfleet/hashfleet/internal/sha256d"
)

func TestWorkerPassword(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "pw")
	if err := os.WriteFile(file, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		args    []string
		env     string
		want    string
		wantErr bool
		wantLog string
	}{
		{name: "default", want: "x"},
		{name: "env", env: "from-env", want: "from-env"},
		{name: "file beats env", args: []string{"--pass-file", file}, env: "from-env", want: "from-file"},
		{name: "flag warns", args: []string{"-p", "from-flag"}, want: "from-flag", wantLog: "visible in the process list"},
		{name: "flag and file", args: []string{"-p", "a", "--pass-file", file}, wantErr: true},
		{name: "missing file", args: []string{"--pass-file", filepath.Join(dir, "nope")}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.env != "" {
				t.Setenv(workerPasswordEnv, tt.env)
			} else {
				t.Setenv(workerPasswordEnv, "")
				os.Unsetenv(workerPasswordEnv)
			}
			cmd := newWorkerCmd()
			if err := cmd.ParseFlags(tt.args); err != nil {
				t.Fatal(err)
			}
			var f workerFlags
			f.pass, _ = cmd.Flags().GetString("pass")
			f.passFile, _ = cmd.Flags().GetString("pass-file")
			var logs bytes.Buffer
			got, err := workerPassword(cmd, &f, slog.New(slog.NewTextHandler(&logs, nil)))
			if (err != nil) != tt.wantErr {
				t.Fatalf("got err %v, wantErr %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if !strings.Contains(logs.String(), tt.wantLog) {
				t.Errorf("log %q lacks %q", logs.String(), tt.wantLog)
			}
			if strings.Contains(logs.String(), "from-") {
				t.Errorf("log %q holds the password", logs.String())
			}
		})
	}
}

func TestWorkerBenchmarkCommand(t *testing.T) {
	tests := []struct {
		name string
		flag string
		want []string
	}{
		{name: "delegates to bench", flag: "--benchmark", want: []string{"bench: impl generic", "generic total: "}},
		{name: "miner code path", flag: "--benchmark-miner", want: []string{"Total: ", "impl generic"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := newWorkerCmd()
			var out bytes.Buffer
			cmd.SetOut(&out)
			cmd.SetErr(&out)
			cmd.SetArgs([]string{tt.flag, "-t", "1", "--time-limit", "200ms", "--impl", "generic", "--log-level", "error"})
			if err := cmd.Execute(); err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("got %q, want %q", out.String(), w)
				}
			}
		})
	}
}

func TestWorkerNeedsPool(t *testing.T) {
	cmd := newWorkerCmd()
	cmd.SetArgs([]string{"-u", "u"})
	cmd.SetOut(&bytes.Buffer{})
	cmd.SetErr(&bytes.Buffer{})
	if err := cmd.Execute(); err == nil || !strings.Contains(err.Error(), "no pool") {
		t.Errorf("got %v, want a no-pool error", err)
	}
}

// TestWorkerMinesAgainstPool runs the worker command against the in-process
// Stratum pool with the password from the environment, and reads its stats
// and metrics over --api-listen.
func TestWorkerMinesAgainstPool(t *testing.T) {
	pool := minertest.NewServer(t, minertest.Config{Password: "env-secret", VersionMask: 0x1fffe000})
	t.Setenv(workerPasswordEnv, "env-secret")
	api := porttest.Addr(t)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := newWorkerCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs([]string{"-o", pool.URL(), "-u", "bcrt1qworker.w1", "-t", "1", "--api-listen", api,
		"--stats-interval", "100ms", "--log-format", "json"})
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()

	minertest.WaitFor(t, "5 valid shares", 30*time.Second, func() bool { return pool.ValidShares(nil) >= 5 })
	var st miner.Stats
	minertest.WaitFor(t, "/api/stats to count accepted shares", 10*time.Second, func() bool {
		resp, err := http.Get("http://" + api + "/api/stats")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		return json.NewDecoder(resp.Body).Decode(&st) == nil && st.Accepted >= 1
	})
	if !st.Connected || !st.Authorized || st.VersionMask != "1fffe000" || len(st.Threads) != 1 {
		t.Errorf("got stats %+v, want connected, authorized, mask 1fffe000, 1 thread", st)
	}
	resp, err := http.Get("http://" + api + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"hashfleet_miner_shares_total{result=\"accepted\"}", "hashfleet_miner_hashes_total", "hashfleet_miner_hashrate_hps{thread=\"0\"}"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("worker: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("worker did not stop within 10s")
	}
	for i, s := range pool.Shares() {
		if !s.Valid {
			t.Errorf("share %d invalid: %s", i, s.Reason)
		}
	}
	if strings.Contains(out.String(), "env-secret") {
		t.Errorf("worker output holds the password")
	}
}

// TestWorkerAutoLogsCalibration: with --impl auto the worker measures every
// kernel at start and logs the choice and the rates before hashing with it.
func TestWorkerAutoLogsCalibration(t *testing.T) {
	cmd := newWorkerCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs([]string{"--benchmark-miner", "-t", "1", "--time-limit", "100ms", "--impl", "auto", "--log-format", "json", "--quiet"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	var logged struct {
		Msg      string `json:"msg"`
		Impl     string `json:"impl"`
		Measured string `json:"measured"`
	}
	for line := range strings.SplitSeq(out.String(), "\n") {
		if strings.Contains(line, "chosen by measurement") {
			if err := json.Unmarshal([]byte(line), &logged); err != nil {
				t.Fatalf("log line %q: %v", line, err)
			}
		}
	}
	if logged.Impl == "" || !strings.HasSuffix(logged.Measured, "-> "+logged.Impl) {
		t.Fatalf("no calibration log line naming the choice and rates:\n%s", out.String())
	}
	for _, im := range sha256d.Impls() {
		if im.Available && !strings.Contains(logged.Measured, im.Name+" ") {
			t.Errorf("calibration %q lacks %s", logged.Measured, im.Name)
		}
	}
	if !strings.Contains(out.String(), `"impl":"`+logged.Impl+`"`) {
		t.Errorf("benchmark did not run with the chosen %s:\n%s", logged.Impl, out.String())
	}
}
